// The peer transport: one outbound TCP link to every other member, over
// which this member sends its cluster messages, batched per loop turn into
// one RESP command ("PEER BATCH <payload>", server/peer/batch.h). The other direction arrives as an ordinary client
// connection that said PEER HELLO (see commands_peer.cc).
//
// A link resolves its peer's name, connects, proves itself with the
// cluster secret, then carries messages, batched into one write per loop
// turn. It pings its peer; a peer silent for longer than the peer timeout
// is marked unreachable and the link is rebuilt. A lost link reconnects
// with exponential backoff and jitter. Messages for a peer whose link is
// not up are dropped: the quorum protocol tolerates loss, and a member
// never waits on a peer it cannot reach (it needs only a majority).
//
// With tls-cluster, each link is a TLS session over the socket (a
// TlsStream): the handshake's messages go out first, and what the link
// queues waits in `pending` until the handshake is done.
//
// Ownership: the Server owns PeerLinks; each Link owns its uv handles and
// frees a socket handle only in its close callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cluster/messages.h"
#include "server/peer/peer_status.h"
#include "server/config/config.h"

struct ssl_ctx_st;

namespace lockerd::server {

class PeerLinks {
 public:
  PeerLinks(uv_loop_t* loop, const Config& config, cluster::MemberId self, uint64_t seed);
  ~PeerLinks();
  PeerLinks(const PeerLinks&) = delete;
  PeerLinks& operator=(const PeerLinks&) = delete;

  // With tls-cluster: links speak TLS on `context` (verifying the peer's
  // certificate against the CA and its address); before Start.
  void UseTls(ssl_ctx_st* context) { tls_context_ = context; }
  void Start();
  // Queues a message for its peer's next write; dropped if the link is down.
  void Send(const cluster::Message& message);
  // Writes what each link has queued: once per loop turn.
  void FlushAll();
  void Stop();
  std::vector<PeerStatus> Status() const;
  // Told whenever a link's peer becomes reachable (handshake done, or a
  // ping answered) or unreachable (link lost); before Start.
  using ReachableHandler = std::function<void(cluster::MemberId, bool)>;
  void OnReachable(ReachableHandler handler) { on_reachable_ = std::move(handler); }
  // The peer just connected to us, so it is up: a link waiting out its
  // reconnect backoff tries at once.
  void PeerSeen(cluster::MemberId member);

  struct Link;  // One peer's link; defined in peer_links.cc.

 private:
  void Connect(Link& link);
  void TryNextAddress(Link& link);
  void ScheduleReconnect(Link& link, const char* why);
  void CloseSocket(Link& link);
  // Frames the link's batch of messages as one PEER BATCH command.
  void CloseBatch(Link& link);
  void Write(Link& link);
  void OnReplies(Link& link);
  void Heartbeat(Link& link);
  void SetReachable(Link& link, bool reachable);

  static void OnResolved(uv_getaddrinfo_t* request, int status, addrinfo* result);
  static void OnConnected(uv_connect_t* request, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* request, int status);
  static void OnTimer(uv_timer_t* timer);

  uv_loop_t* loop_;
  const Config& config_;
  cluster::MemberId self_;
  std::string fingerprint_;  // ClusterFingerprint(config_).
  std::vector<std::unique_ptr<Link>> links_;  // Indexed by member id; null for self.
  std::mt19937_64 rng_;
  std::string read_buffer_;
  ssl_ctx_st* tls_context_ = nullptr;  // Not owned; null for plain links.
  ReachableHandler on_reachable_;
  bool stopped_ = false;
};

}  // namespace lockerd::server
