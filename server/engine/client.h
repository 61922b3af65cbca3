// One client connection's state as the command layer sees it: identity,
// protocol version, authentication, pending replies and whether it is blocked.
// It holds no socket: the libuv connection (connection.h) owns a Client and
// tests create Clients directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/resp_writer.h"
#include "server/engine/reply_order.h"
#include "server/engine/transaction.h"

namespace lockerd::server {

class AclUser;

enum class BlockKind : uint8_t {
  kNone,
  kWrite,   // Waiting for a majority to answer a write.
  kWait,    // LOCK ... WAIT or WAIT: waiting for a key to be free.
  kWrites,  // Pipelined writes in flight: too many, or the next command
            // (kept in `deferred`) must see them done first.
};

class Client {
 public:
  Client(uint64_t id, std::string peer_address, std::string local_address, int64_t created_ms)
      : id_(id),
        peer_address_(std::move(peer_address)),
        local_address_(std::move(local_address)),
        created_ms_(created_ms) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uint64_t id() const { return id_; }
  // Set once, when the socket is accepted.
  void set_addresses(std::string remote, std::string local) {
    peer_address_ = std::move(remote);
    local_address_ = std::move(local);
  }
  const std::string& peer_address() const { return peer_address_; }
  const std::string& local_address() const { return local_address_; }
  int64_t created_ms() const { return created_ms_; }

  // Replies not yet handed to the socket, in command order (reply_order.h).
  ReplyOrder& replies() { return replies_; }
  const ReplyOrder& replies() const { return replies_; }
  protocol::RespWriter& writer() { return replies_.writer(); }
  std::string& reply() { return replies_.reply(); }
  const std::string& reply() const { return replies_.reply(); }
  // Bytes handed to the socket but not yet written (set by the connection).
  size_t inflight_bytes = 0;
  size_t pending_bytes() const { return reply().size() + inflight_bytes; }
  // Bytes received but not yet parsed into a command (set by the connection).
  size_t query_bytes = 0;
  protocol::RespVersion version() const { return replies_.writer().version(); }

  // What the client said of itself (CLIENT SETNAME, CLIENT SETINFO, HELLO).
  struct Info {
    std::string name;
    std::string lib_name;
    std::string lib_version;
  };
  Info info;
  bool authenticated = false;
  // MULTI ... EXEC and WATCH (transaction.h); null when neither is in use.
  std::unique_ptr<Transaction> transaction;
  bool in_multi() const { return transaction != nullptr && transaction->in_multi(); }
  Transaction& StartTransaction() {
    if (transaction == nullptr) transaction = std::make_unique<Transaction>();
    return *transaction;
  }
  // The ACL user the connection runs as: `default` until AUTH or HELLO
  // AUTH switches it (set by Engine::AddClient; never null after that).
  std::shared_ptr<const AclUser> user;
  bool close_after_reply = false;  // QUIT, protocol errors, CLIENT KILL of self.
  bool kill_requested = false;     // CLIENT KILL by another client.
  BlockKind blocked = BlockKind::kNone;
  bool needs_attention = false;  // Queued in Engine's attention list.
  // For CLIENT LIST / CLIENT INFO and the fuzzers' reports.
  struct Activity {
    int64_t last_interaction_ms = 0;
    std::string last_command;
    uint64_t commands_count = 0;
  };
  Activity activity;
  // Pipelined writes (LOCK, EXTEND, RELEASE, UPDATE) in flight at once, and
  // a command that arrived after them and must wait until they are done.
  struct Pipeline {
    size_t writes_in_flight = 0;
    std::vector<std::string> deferred;
  };
  Pipeline pipeline;

  // The cluster-peer side of a connection (server/peer/auth.h).
  struct PeerChallenge {
    int member = -1;
    std::string connecting_nonce;
    std::string listening_nonce;
  };
  struct Peer {
    // A member that proved itself (PEER HELLO, then PEER AUTH): its id.
    int member = -1;
    // Between PEER HELLO and PEER AUTH: who the connecting member says it
    // is and both nonces.
    std::unique_ptr<PeerChallenge> challenge;
    // Protected mode let this non-loopback connection in only because this
    // member is in a cluster: it may send PEER commands and nothing else.
    bool only = false;
    // Accepted into the slots kept for peers beyond maxclients: it must be
    // a peer (PEER HELLO) or it is told the server is full.
    bool reserved = false;
  };
  Peer peer;
  // Connected to tls-port; and, once its handshake is done, whether it
  // presented a certificate that verified against the CA (a peer on a
  // tls-cluster must have).
  struct Tls {
    bool on = false;
    bool cert_verified = false;
  };
  Tls tls;

 private:
  uint64_t id_;
  std::string peer_address_;
  std::string local_address_;
  int64_t created_ms_;
  ReplyOrder replies_;
};

}  // namespace lockerd::server
