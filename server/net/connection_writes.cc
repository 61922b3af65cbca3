// Client connections out: flushing replies (plain, and TLS a chunk at a
// time), backpressure and the output buffer limits.
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
#include "server/uv/write_now.h"

namespace lockerd::server {

using base::ReleaseIfBig;

void Server::QueueFlush(Connection& connection) {
  if (connection.queued_for_flush || connection.closing) return;
  connection.queued_for_flush = true;
  flush_queue_.push_back(connection.client.id());
}

void Server::Flush(Connection& connection) {
  if (connection.closing || connection.writing) return;
  // A reply written since the turn's commit (a write completing after
  // reads in the same turn) waits for its changes to be durable too, and
  // for a configuration it may show (MEMBERS, INFO) to be kept.
  SaveMembership();
  CommitChanges();
  if (connection.closing) return;  // The log failed (LogFailed).
  if (connection.tls) return FlushTls(connection);
  Client& client = connection.client;
  std::string& reply = client.reply();
  if (!reply.empty()) {
    // What does not go at once stays put in `inflight` until OnWrite;
    // replies meanwhile keep accumulating in client.reply().
    connection.inflight.swap(reply);
    if (!WriteOut(connection)) return;
    connection.inflight.clear();
    reply.swap(connection.inflight);  // Keeps the buffer's memory.
    ReleaseIfBig(reply);
  }
  Drained(connection);
}

bool Server::WriteOut(Connection& connection) {
  const uv::WriteStart start =
      uv::WriteNowOrLater(reinterpret_cast<uv_stream_t*>(&connection.handle),
                          &connection.write_request, connection.inflight, OnWrite);
  if (start.error != 0) {
    Close(connection, uv_strerror(start.error));
    return false;
  }
  if (start.written_now > 0) NoteProgress(connection, static_cast<int64_t>(uv_now(&loop_)));
  if (!start.in_flight) return true;
  if (!connection.tls) connection.client.inflight_bytes = connection.inflight.size();
  connection.writing = true;
  return false;
}

void Server::FlushTls(Connection& connection) {
  while (TakeTlsOutput(connection)) {
    // As in Flush: the rest goes out with uv_write and stays put until
    // OnWrite, which comes back here for the next chunk.
    if (!WriteOut(connection)) return;
    connection.inflight.clear();
  }
  if (connection.tls->failed()) return Close(connection, connection.tls->error().c_str());
  ReleaseIfBig(connection.inflight);
  // Replies written before the handshake finished wait for it.
  if (!connection.client.reply().empty() ||
      connection.tls_plain_offset < connection.tls_plain.size()) {
    return;
  }
  ReleaseIfBig(connection.client.reply());
  Drained(connection);
}

bool Server::TakeTlsOutput(Connection& connection) {
  TlsStream& tls = *connection.tls;
  Client& client = connection.client;
  std::string& out = connection.inflight;
  tls.TakeOutput(&out);  // Handshake messages and alerts first.
  if (out.empty() && tls.handshake_done()) {
    if (connection.tls_plain_offset == connection.tls_plain.size()) {
      // Take every reply so far without copying; new ones keep
      // accumulating in client.reply().
      connection.tls_plain.clear();
      connection.tls_plain_offset = 0;
      ReleaseIfBig(connection.tls_plain);
      connection.tls_plain.swap(client.reply());
    }
    const std::string_view rest =
        std::string_view(connection.tls_plain).substr(connection.tls_plain_offset);
    if (!rest.empty()) {
      connection.tls_plain_offset += tls.Write(rest.substr(0, kTlsWriteChunkBytes));
      tls.TakeOutput(&out);
    }
  }
  // The output limits count replies not yet on the wire: those still in
  // plaintext and the ciphertext in hand (about the same size).
  client.inflight_bytes = connection.tls_plain.size() - connection.tls_plain_offset + out.size();
  return !out.empty();
}

void Server::Drained(Connection& connection) {
  // Nothing is pending: a client that stopped being served because of its
  // output (backpressure) continues with the input it has sent since.
  if (connection.client.close_after_reply) return Close(connection, "closed after its last reply");
  const Time now = Now();
  CheckOutputLimits(connection, now);
  if (flushing_turn_) {
    // Group commit: what the client sent meanwhile runs after every reply
    // of this turn has gone, and its own replies go with the next turn's
    // commit, rather than each connection's costing a sync of its own.
    continue_after_flush_.push_back(connection.client.id());
    return;
  }
  Continue(connection, now);
}

void Server::OnWrite(uv_write_t* request, int status) {
  Connection& connection = *static_cast<Connection*>(request->data);
  Server& server = *connection.server;
  connection.writing = false;
  connection.client.inflight_bytes =
      connection.tls ? connection.tls_plain.size() - connection.tls_plain_offset : 0;
  connection.inflight.clear();
  ReleaseIfBig(connection.inflight);
  if (connection.closing) return;  // Cancelled by uv_close; OnClose frees it.
  if (status < 0) return server.Close(connection, uv_strerror(status));
  server.NoteProgress(connection, static_cast<int64_t>(uv_now(&server.loop_)));
  // Part of the output drained: the soft-limit clock restarts when it falls
  // below the limit, even if it has not drained completely.
  server.CheckOutputLimits(connection, server.Now());
  server.Flush(connection);
}

void Server::CheckOutputLimits(Connection& connection, Time now) {
  if (connection.closing) return;
  const size_t pending = connection.client.pending_bytes();
  const OutputBufferLimit& limit = config_.output_limit;
  if (pending > limit.hard_bytes) {
    ++engine_.stats().output_limit_disconnects;
    Log(LogLevel::kWarning, "Closing %s: %zu reply bytes pending, over the hard limit of %zu",
        connection.client.peer_address().c_str(), pending, limit.hard_bytes);
    return Close(connection, "output buffer over its hard limit");
  }
  if (pending > limit.soft_bytes) {
    if (connection.over_soft_since_ms < 0) {
      connection.over_soft_since_ms = now.mono_ms;
      over_soft_.insert(&connection);
    }
  } else if (connection.over_soft_since_ms >= 0) {
    connection.over_soft_since_ms = -1;
    over_soft_.erase(&connection);
  }
}

}  // namespace lockerd::server
