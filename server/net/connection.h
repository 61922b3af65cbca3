// A client's TCP connection: the libuv handle, the Client state the command
// layer sees, the RESP parser, input held back while the client is blocked
// or over its output limit, and the bytes of the write in flight.
//
// Ownership: the Server creates a Connection on accept and deletes it in the
// handle's close callback, never earlier (libuv may still call back).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/resp_parser.h"
#include "server/engine/client.h"
#include "server/net/idle_list.h"
#include "server/security/tls_stream.h"

namespace lockerd::server {

class Server;

struct Connection {
  Connection(Server* owner, uint64_t id, std::string peer, std::string local, int64_t now_ms,
             const protocol::ParserLimits& limits)
      : server(owner), client(id, std::move(peer), std::move(local), now_ms), parser(limits) {}

  uv_tcp_t handle{};  // handle.data points back at this Connection.
  uv_write_t write_request{};
  Server* server;
  Client client;
  protocol::RespParser parser;
  std::string held_input;  // Received, not yet parsed (client blocked or paused).
  std::string inflight;    // Bytes handed to uv_write, until its callback.
  // On tls-port only (null otherwise): the session, and the replies taken
  // from client.reply() that are being encrypted, a chunk at a time, from
  // `tls_plain_offset` on (see Server::FlushTls).
  std::unique_ptr<TlsStream> tls;
  std::string tls_plain;
  size_t tls_plain_offset = 0;
  bool writing = false;
  bool reading = false;
  bool closing = false;
  bool queued_for_flush = false;
  int64_t over_soft_since_ms = -1;  // When output went over the soft limit.
  IdleEntry idle{this};  // In the server's idle list while `timeout` is set.
};

}  // namespace lockerd::server
