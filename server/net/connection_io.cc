// Client connections in: accepting (plain and TLS), reading, running what
// was read through the engine, holding input while a client is blocked,
// closing.
#include "server/net/server.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>

#include "base/buffer_keeping.h"
#include "base/errors.h"
#include "base/log.h"
#include "base/check.h"
#include "protocol/cross_protocol.h"
#include "server/net/net_address.h"
#include "server/net/server_internal.h"

namespace lockerd::server {

using net_internal::ConnectionOf;
using base::kBufferKeepBytes;

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* server = static_cast<Server*>(listener->data);
  if (status < 0) {
    Log(LogLevel::kWarning, "Accept failed: %s", uv_strerror(status));
    return;
  }
  server->Accept(listener, /*tls=*/false);
}

void Server::OnTlsConnection(uv_stream_t* listener, int status) {
  auto* server = static_cast<Server*>(listener->data);
  if (status < 0) {
    Log(LogLevel::kWarning, "Accept failed: %s", uv_strerror(status));
    return;
  }
  server->Accept(listener, /*tls=*/true);
}

void Server::Accept(uv_stream_t* listener, bool tls) {
  const Time now = Now();
  auto* connection = new Connection(this, engine_.NextClientId(), {}, {}, now.mono_ms,
                                    config_.parser_limits);
  uv_tcp_init(&loop_, &connection->handle);
  connection->handle.data = connection;
  connection->write_request.data = connection;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&connection->handle)) != 0) {
    connection->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), OnClose);
    return;
  }
  sockaddr_storage peer{};
  sockaddr_storage local{};
  int length = sizeof peer;
  uv_tcp_getpeername(&connection->handle, reinterpret_cast<sockaddr*>(&peer), &length);
  length = sizeof local;
  uv_tcp_getsockname(&connection->handle, reinterpret_cast<sockaddr*>(&local), &length);
  connection->client.set_addresses(FormatAddress(peer), FormatAddress(local));
  if (tls) {
    // Refusals below close a TLS connection without a reply: it could not
    // be read before a handshake.
    connection->client.tls.on = true;
    connection->tls = TlsStream::Create(tls_->accept_context(), TlsStream::Role::kAccept);
    if (!connection->tls) {
      Log(LogLevel::kWarning, "Refused %s: cannot create a TLS session",
          connection->client.peer_address().c_str());
      connection->closing = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&connection->handle), OnClose);
      return;
    }
  }
  if (shutting_down_) return Refuse(&connection->handle, "-" + std::string(errors::kShuttingDown) + "\r\n");
  // Beyond maxclients, one slot per other member stays for peers, so that
  // clients filling the server cannot cut the cluster apart.
  const size_t peer_slots = engine_.members_count() - 1;
  if (connections_.size() >= config_.maxclients + peer_slots) {
    ++engine_.stats().connections_rejected;
    return Refuse(&connection->handle, "-" + std::string(errors::kMaxClients) + "\r\n");
  }
  if (connections_.size() >= config_.maxclients) connection->client.peer.reserved = true;
  // As in Redis: protected while the default user needs no password.
  if (config_.protected_mode && engine_.acl().default_user()->nopass() && !IsLoopback(peer)) {
    if (engine_.members_count() > 1) {
      // Peers on other hosts must reach us; such a connection may only
      // prove itself a peer (PEER HELLO with the cluster secret).
      connection->client.peer.only = true;
    } else {
      ++engine_.stats().connections_rejected;
      Log(LogLevel::kWarning, "Refused %s: protected mode (no requirepass, not loopback)",
          connection->client.peer_address().c_str());
      return Refuse(&connection->handle, "-" + std::string(errors::kProtected) + "\r\n");
    }
  }
  uv_tcp_nodelay(&connection->handle, 1);
  if (connection->client.peer.only || connection->client.peer.reserved) {
    awaiting_hello_.insert(connection);
  }
  connection->client.activity.last_interaction_ms = now.mono_ms;
  connections_.emplace(connection->client.id(), connection);
  connections_peak_ = std::max(connections_peak_, connections_.size());
  engine_.AddClient(&connection->client);
  NoteProgress(*connection, now.mono_ms);
  Log(LogLevel::kVerbose, "Accepted %s (id %llu)", connection->client.peer_address().c_str(),
      static_cast<unsigned long long>(connection->client.id()));
  UpdateReading(*connection);
}

void Server::Refuse(uv_tcp_t* handle, std::string_view reply) {
  Connection& connection = ConnectionOf(reinterpret_cast<uv_handle_t*>(handle));
  if (!connection.tls) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reply.data()), static_cast<unsigned>(reply.size()));
    uv_try_write(reinterpret_cast<uv_stream_t*>(handle), &buf, 1);  // Best effort.
  }
  connection.closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClose);
}

void Server::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  // One buffer serves every read: OnRead uses the bytes before returning.
  Server* server = ConnectionOf(handle).server;
  *buf = uv_buf_init(server->read_buffer_.data(), static_cast<unsigned>(server->read_buffer_.size()));
}

void Server::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Connection& connection = ConnectionOf(reinterpret_cast<uv_handle_t*>(stream));
  Server& server = *connection.server;
  if (nread < 0) {
    server.Close(connection, nread == UV_EOF ? "client closed the connection" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  if (nread == 0 || connection.closing) return;
  const std::string_view data(buf->base, static_cast<size_t>(nread));
  if (connection.tls) return server.ReadTls(connection, data);
  server.Receive(connection, data);
}

void Server::ReadTls(Connection& connection, std::string_view ciphertext) {
  TlsStream& tls = *connection.tls;
  const bool was_done = tls.handshake_done();
  tls_read_plain_.clear();
  const TlsStream::Result result = tls.Feed(ciphertext, &tls_read_plain_);
  if (result == TlsStream::Result::kFailed) {
    // Scanners, plain RESP on this port and clients with the wrong
    // certificate all end here; one line each, at verbose.
    ++(was_done ? engine_.stats().protocol_errors : engine_.stats().tls_handshake_failures);
    Log(LogLevel::kVerbose, "Closing TLS connection from %s: %s",
        connection.client.peer_address().c_str(), tls.error().c_str());
    // The alert OpenSSL queued tells the client why; best effort.
    std::string alert;
    tls.TakeOutput(&alert);
    if (!alert.empty() && !connection.writing) {
      uv_buf_t buf = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
      uv_try_write(reinterpret_cast<uv_stream_t*>(&connection.handle), &buf, 1);
    }
    return Close(connection, "TLS handshake or record failed");
  }
  if (!was_done && tls.handshake_done()) {
    connection.client.tls.cert_verified = tls.peer_verified();
    Log(LogLevel::kDebug, "TLS %s with %s (certificate %s)", tls.version().c_str(),
        connection.client.peer_address().c_str(),
        connection.client.tls.cert_verified ? "verified" : "none");
  }
  // Handshake messages to send, or replies that waited for the handshake.
  if (tls.has_output() || !connection.client.reply().empty() ||
      connection.tls_plain_offset < connection.tls_plain.size()) {
    QueueFlush(connection);
  }
  if (!tls_read_plain_.empty()) Receive(connection, tls_read_plain_);
  if (result == TlsStream::Result::kClosed) Close(connection, "client sent close_notify");
}

void Server::Receive(Connection& connection, std::string_view data) {
  const Time now = Now();
  NoteProgress(connection, now.mono_ms);
  if (connection.held_input.empty()) {
    Process(connection, data, now);
    return;
  }
  connection.held_input.append(data);
  if (connection.held_input.size() > config_.parser_limits.command_bytes_max) {
    // A blocked client keeps being read so that its disconnect is seen; what
    // it pipelines meanwhile is bounded like any query buffer.
    ++engine_.stats().protocol_errors;
    Close(connection, "input held while blocked is over client-query-buffer-limit");
    return;
  }
  connection.client.query_bytes = connection.held_input.size();
  Continue(connection, now);
}

void Server::Process(Connection& connection, std::string_view input, Time now) {
  Client& client = connection.client;
  while (!input.empty()) {
    if (connection.closing || client.close_after_reply || client.kill_requested ||
        client.blocked != BlockKind::kNone ||
        client.pending_bytes() > config_.output_limit.soft_bytes) {
      break;
    }
    const protocol::ParseResult result = connection.parser.Feed(input);
    input.remove_prefix(result.consumed_bytes);
    if (result.status == protocol::ParseStatus::kNeedMore) break;
    if (result.status == protocol::ParseStatus::kError) {
      FailProtocol(connection, result.error, LogLevel::kVerbose);
      input = {};
      break;
    }
    if (protocol::LooksLikeHttp(connection.parser.command())) {
      FailProtocol(connection, "Protocol error: HTTP request sent to a RESP port (possible "
                   "cross-protocol attack)", LogLevel::kWarning);
      input = {};
      break;
    }
    engine_.Execute(client, connection.parser.command(), now);
    if (client.peer.member >= 0) {
      connection.parser.RaiseBulkLimit(PeerBatchBytesMax(config_.max_key_bytes));
    }
  }
  if (!input.empty() && !client.close_after_reply) connection.held_input.append(input);
  client.query_bytes = connection.held_input.size() + connection.parser.buffered_bytes();
  QueueFlush(connection);
  CheckOutputLimits(connection, now);
  if (!connection.closing) UpdateReading(connection);
}

void Server::FailProtocol(Connection& connection, std::string_view error, LogLevel level) {
  Client& client = connection.client;
  ++engine_.stats().protocol_errors;
  engine_.ReplyError(client, errors::ProtocolError(error));
  client.close_after_reply = true;
  Log(level, "Closing %s after a protocol error: %.*s", client.peer_address().c_str(),
      static_cast<int>(error.size()), error.data());
}

void Server::Continue(Connection& connection, Time now) {
  if (connection.closing) return;
  if (connection.client.blocked == BlockKind::kNone && !connection.client.pipeline.deferred.empty()) {
    engine_.RunDeferred(connection.client, now);
    QueueFlush(connection);
  }
  if (connection.client.blocked == BlockKind::kNone && !connection.held_input.empty()) {
    ResumeHeldInput(connection, now);
  } else {
    UpdateReading(connection);
  }
}

void Server::ResumeHeldInput(Connection& connection, Time now) {
  std::string held;
  held.swap(connection.held_input);
  Process(connection, held, now);
  if (!connection.closing && connection.held_input.empty()) {
    // Keep the buffer's memory for the next time, unless it grew big.
    held.clear();
    if (held.capacity() <= kBufferKeepBytes) connection.held_input.swap(held);
  }
}

void Server::UpdateReading(Connection& connection) {
  const Client& client = connection.client;
  // Read unless the client must close or has not read its replies
  // (backpressure: TCP pushes back on it). A blocked client is still read,
  // so that its disconnect is seen.
  const bool want = !connection.closing && !client.close_after_reply &&
                    client.pending_bytes() <= config_.output_limit.soft_bytes;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  if (want && !connection.reading) {
    if (uv_read_start(stream, OnAlloc, OnRead) == 0) connection.reading = true;
  } else if (!want && connection.reading) {
    uv_read_stop(stream);
    connection.reading = false;
  }
}

void Server::Close(Connection& connection, const char* why) {
  if (connection.closing) return;
  connection.closing = true;
  Log(LogLevel::kVerbose, "Closing %s (id %llu): %s", connection.client.peer_address().c_str(),
      static_cast<unsigned long long>(connection.client.id()), why);
  if (connection.tls && !connection.writing && connection.tls->handshake_done()) {
    // close_notify tells the client the stream ended here, not cut; best
    // effort, and never while a write is in flight (it would interleave).
    std::string notify;
    connection.tls->Shutdown();
    connection.tls->TakeOutput(&notify);
    uv_buf_t buf = uv_buf_init(notify.data(), static_cast<unsigned>(notify.size()));
    if (!notify.empty()) uv_try_write(reinterpret_cast<uv_stream_t*>(&connection.handle), &buf, 1);
  }
  engine_.RemoveClient(&connection.client);
  connections_.erase(connection.client.id());
  idle_list_.Remove(&connection.idle);
  over_soft_.erase(&connection);
  awaiting_hello_.erase(&connection);
  uv_close(reinterpret_cast<uv_handle_t*>(&connection.handle), OnClose);
}

void Server::OnClose(uv_handle_t* handle) { delete &ConnectionOf(handle); }

}  // namespace lockerd::server
