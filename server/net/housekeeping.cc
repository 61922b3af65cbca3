// What runs on the loop besides requests: the idle `timeout`, the cron
// (soft output limits, peers that never said hello, memory trim), the
// loop-stall measurement.
#include "server/net/server.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>

#include "base/errors.h"
#include "base/log.h"
#include "base/check.h"
#include "protocol/cross_protocol.h"
#include "server/net/net_address.h"
#include "server/net/server_internal.h"

namespace lockerd::server {

namespace {

// After this many connections have closed since the last peak, the cron
// hands free heap pages back to the system (malloc_trim): glibc returns
// only the top of the heap by itself, so a flood of 10,000 connections
// would otherwise pin their memory after they are gone.
constexpr size_t kTrimAfterConnectionsClosed = 1000;

}  // namespace

void Server::NoteProgress(Connection& connection, int64_t now_ms) {
  // Peers are exempt: their links have their own pings and timeouts.
  if (config_.idle_timeout_seconds == 0 || connection.closing ||
      connection.client.peer.member >= 0) {
    return;
  }
  // O(1): the connection moves to the tail; the timer stays armed for the
  // head, and when the head has moved on, it fires early and re-arms.
  idle_list_.Touch(&connection.idle, now_ms);
  if (!idle_timer_armed_) ArmIdleTimer(now_ms);
}

void Server::OnIdleTimer(uv_timer_t* timer) {
  Server& server = *static_cast<Server*>(timer->data);
  server.idle_timer_armed_ = false;
  const int64_t now_ms = server.Now().mono_ms;
  server.CloseIdleClients(now_ms);
  server.ArmIdleTimer(now_ms);
}

void Server::CloseIdleClients(int64_t now_ms) {
  const int64_t timeout_ms = config_.idle_timeout_seconds * 1000;
  // Each step removes the head or moves it to the tail with now_ms, which is
  // not expired (timeout_ms >= 1000), so this ends after at most one pass.
  while (IdleEntry* entry = idle_list_.Expired(now_ms, timeout_ms)) {
    Connection& connection = *static_cast<Connection*>(entry->owner);
    const Client& client = connection.client;
    if (client.peer.member >= 0) {
      idle_list_.Remove(entry);  // Became a peer (PEER HELLO) since it was listed.
    } else if (client.blocked != BlockKind::kNone || client.needs_attention ||
               connection.queued_for_flush) {
      // As in Redis, a blocked client is not idle: its LOCK ... WAIT (or a
      // write waiting for a majority) has its own timeout. Nor is one whose
      // reply goes out at the end of this loop turn (a wait that just
      // timed out). Looked at again one timeout from now.
      idle_list_.Touch(entry, now_ms);
    } else {
      ++engine_.stats().idle_timeout_disconnects;
      Log(LogLevel::kVerbose, "Closing %s (id %llu): idle for %lld s (timeout)",
          client.peer_address().c_str(), static_cast<unsigned long long>(client.id()),
          static_cast<long long>((now_ms - entry->active_ms) / 1000));
      Close(connection, "idle longer than timeout");
    }
  }
}

void Server::ArmIdleTimer(int64_t now_ms) {
  if (shutting_down_ || idle_timer_armed_ || idle_list_.empty()) return;
  const int64_t deadline_ms = idle_list_.head()->active_ms + config_.idle_timeout_seconds * 1000;
  uv_timer_start(&idle_timer_, OnIdleTimer,
                 static_cast<uint64_t>(std::max<int64_t>(0, deadline_ms - now_ms)), 0);
  idle_timer_armed_ = true;
}

void Server::OnCron(uv_timer_t* timer) {
  Server& server = *static_cast<Server*>(timer->data);
  const Time now = server.Now();
  server.RetryLog();
  server.CommitChanges(/*all=*/true);  // Promises that waited for a sync.
  server.NoteVotingState(now);
  const int64_t soft_ms = server.config_.output_limit.soft_seconds * 1000;
  // Only the connections that can be due are looked at, never all of them:
  // with 10,000 clients a sweep would stall the loop every second.
  std::vector<Connection*> over;
  for (Connection* connection : server.over_soft_) {
    if (now.mono_ms - connection->over_soft_since_ms >= soft_ms) over.push_back(connection);
  }
  for (Connection* connection : over) {
    ++server.engine_.stats().output_limit_disconnects;
    server.Close(*connection, "output buffer over its soft limit for too long");
  }
  std::vector<Connection*> silent;
  std::vector<Connection*> proven;
  for (Connection* connection : server.awaiting_hello_) {
    const Client& client = connection->client;
    if (client.peer.member >= 0) {
      proven.push_back(connection);
    } else if (now.mono_ms - client.created_ms() > kPeerHelloTimeoutMs) {
      silent.push_back(connection);
    }
  }
  for (Connection* connection : proven) server.awaiting_hello_.erase(connection);
  for (Connection* connection : silent) server.Close(*connection, "no PEER HELLO in time");
  server.TrimMemoryAfterFlood();
}

void Server::TrimMemoryAfterFlood() {
  connections_peak_ = std::max(connections_peak_, connections_.size());
  if (connections_.size() + kTrimAfterConnectionsClosed > connections_peak_) return;
  connections_peak_ = connections_.size();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// A loop turn runs from one prepare to the next: the time in it not spent
// blocked in the poll is how long a ready client could have waited.
void Server::MeasureLoopTurn() {
  const uint64_t now_ns = uv_hrtime();
  const uint64_t idle_ns = uv_metrics_idle_time(&loop_);
  if (turn_started_ns_ != 0) {
    const uint64_t busy_us = (now_ns - turn_started_ns_ - (idle_ns - turn_idle_ns_)) / 1000;
    EngineStats& stats = engine_.stats();
    stats.loop_longest_stall_us = std::max(stats.loop_longest_stall_us, busy_us);
    if (busy_us > 10'000) ++stats.loop_stalls_over_10ms;
  }
  turn_started_ns_ = now_ns;
  turn_idle_ns_ = idle_ns;
}

}  // namespace lockerd::server
