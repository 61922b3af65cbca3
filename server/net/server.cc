#include "server/net/server.h"

#include <malloc.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "server/commands/command_table.h"
#include "base/check.h"
#include "protocol/cross_protocol.h"
#include "base/errors.h"
#include "base/log.h"
#include "server/net/net_address.h"
#include "server/net/server_internal.h"

namespace lockerd::server {
namespace {

using net_internal::WallMs;

// The cron timer: soft output limits are checked this often.
constexpr uint64_t kCronIntervalMs = 1000;
constexpr int kListenBacklog = 511;

Time InitialTime() { return {static_cast<int64_t>(uv_hrtime() / 1'000'000), WallMs()}; }

uint64_t RandomSeed() {
  std::random_device random;
  return (static_cast<uint64_t>(random()) << 32) ^ random();
}

std::string RandomRunId() {
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(40, '0');
  for (char& c : id) c = kHex[random() % 16];
  return id;
}

std::string OsName() {
  utsname name{};
  if (uname(&name) != 0) return "unknown";
  return std::string(name.sysname) + " " + name.release + " " + name.machine;
}

}  // namespace

Server::Server(Config config)
    : config_(std::move(config)),
      engine_(LockerdCommands(), config_, InitialTime(), RandomSeed()),
      data_dir_(config_.dir),
      state_store_(config_.dir),
      membership_file_(config_.dir),
      read_buffer_(kReadChunkBytes, '\0') {
  CHECK(uv_loop_init(&loop_) == 0);
  // Lets MeasureLoopTurn tell time spent waiting from time spent working.
  CHECK(uv_loop_configure(&loop_, UV_METRICS_IDLE_TIME) == 0);
  loop_.data = this;
}

Server::~Server() {
  // Every handle was closed by Shutdown; run the loop once more to let their
  // close callbacks free them.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

Time Server::Now() {
  // Read afresh in every callback: libuv's cached time is the loop turn's
  // start, and a socket read late in a long turn (after another client's
  // slow script) holds commands sent after it. A lease started at such a
  // reading would begin before its LOCK was sent.
  uv_update_time(&loop_);
  return {static_cast<int64_t>(uv_now(&loop_)), WallMs(), static_cast<int64_t>(uv_hrtime() / 1000)};
}

int Server::Run() {
  ProcessInfo& process = engine_.process();
  process.pid = static_cast<int>(getpid());
  process.os = OsName();
  process.run_id = RandomRunId();
  char executable[4096] = {};
  size_t size = sizeof executable;
  if (uv_exepath(executable, &size) == 0) process.executable = executable;
  if (config_.tls_port != 0 || config_.tls_cluster) {
    std::string error;
    tls_ = TlsContext::Create(config_, &error);
    if (!tls_) {
      Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
      return 1;
    }
  }
  if (!Restore()) return 1;
  if (!Listen()) {
    if (loaded_from_log_ || log_) {
      // What was loaded (from a log, which a start rewrites) is saved as
      // a clean stop would: nothing was served, and nothing is lost.
      const Time now = Now();
      if (const std::string error = state_store_.SaveClean(engine_.node().Save(now),
                                                           {now.wall_ms, ReadBootStamp()});
          !error.empty()) {
        Log(LogLevel::kWarning, "Could not save state: %s; the next start replays %s", error.c_str(),
            state_store_.log_path().c_str());
      }
      return 1;
    }
    // Nothing was served: as it found it, unless the last stop or this
    // start's member list already calls for a start as after a crash.
    if (!start_must_quarantine_) state_store_.ClearRunning();
    return 1;
  }
  if (engine_.members_count() > 1) {
    peers_ = std::make_unique<PeerLinks>(&loop_, config_, engine_.self(), RandomSeed());
    if (config_.tls_cluster) peers_->UseTls(tls_->connect_context());
    // Peers count as unreachable until their links are up.
    for (cluster::MemberId member = 0; member < engine_.members_count(); ++member) {
      if (member != engine_.self()) engine_.SetPeerReachable(member, false);
    }
    peers_->OnReachable([this](cluster::MemberId member, bool reachable) {
      engine_.SetPeerReachable(member, reachable);
    });
    peers_->Start();
    engine_.process().peer_status = [this] { return peers_->Status(); };
    engine_.process().on_peer_hello = [this](cluster::MemberId member) { peers_->PeerSeen(member); };
    Log(LogLevel::kNotice, "Member %u of a %zu-member cluster (quorum %zu), advertised as %s",
        engine_.self(), engine_.members_count(), engine_.members_count() / 2 + 1,
        config_.advertise.c_str());
  }
  uv_timer_init(&loop_, &timer_);
  uv_timer_init(&loop_, &cron_);
  uv_timer_init(&loop_, &idle_timer_);
  uv_timer_start(&cron_, OnCron, kCronIntervalMs, kCronIntervalMs);
  uv_prepare_init(&loop_, &prepare_);
  uv_prepare_start(&prepare_, OnPrepare);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  // A daemon's SIGHUP (a closed terminal, a reload request) and the user
  // signals must not end it: an unsaved stop costs a quarantine.
  uv_signal_init(&loop_, &sighup_);
  uv_signal_start(&sighup_, OnIgnoredSignal, SIGHUP);
  uv_signal_init(&loop_, &sigusr1_);
  uv_signal_start(&sigusr1_, OnIgnoredSignal, SIGUSR1);
  uv_signal_init(&loop_, &sigusr2_);
  uv_signal_start(&sigusr2_, OnIgnoredSignal, SIGUSR2);
  for (uv_handle_t* handle : SignalAndTimerHandles()) handle->data = this;
  // SHUTDOWN runs inside a command: the server stops at the end of the loop
  // turn, once that turn's replies and peer messages are out.
  engine_.process().shutdown = [this](bool save) { shutdown_requested_ = save ? 1 : 2; };
  if (config_.tls_port != 0) {
    Log(LogLevel::kNotice, "lockerd ready to accept connections on port %d, tls-port %d (pid %d)",
        config_.port, config_.tls_port, process.pid);
  } else {
    Log(LogLevel::kNotice, "lockerd ready to accept connections on port %d (pid %d)", config_.port,
        process.pid);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

bool Server::Listen() {
  if (config_.port != 0 && !ListenOn(config_.port, OnConnection)) return false;
  return config_.tls_port == 0 || ListenOn(config_.tls_port, OnTlsConnection);
}

bool Server::ListenOn(int port, uv_connection_cb on_connection) {
  for (const std::string& host : config_.bind) {
    const auto address = ParseBindAddress(host, port);
    if (!address) {
      Log(LogLevel::kWarning, "Cannot listen: '%s' is not an IPv4 or IPv6 address", host.c_str());
      Shutdown(nullptr);  // Closes the listeners already open, or the loop never ends.
      return false;
    }
    auto* listener = new uv_tcp_t;
    uv_tcp_init(&loop_, listener);
    listener->data = this;
    listeners_.push_back(listener);
    int status = uv_tcp_bind(listener, reinterpret_cast<const sockaddr*>(&*address), 0);
    if (status == 0) {
      status = uv_listen(reinterpret_cast<uv_stream_t*>(listener), kListenBacklog, on_connection);
    }
    if (status != 0) {
      Log(LogLevel::kWarning, "Cannot listen on %s:%d: %s", host.c_str(), port,
          uv_strerror(status));
      Shutdown(nullptr);
      return false;
    }
  }
  return true;
}

void Server::OnTimer(uv_timer_t* timer) {
  Server& server = *static_cast<Server*>(timer->data);
  server.timer_due_ms_ = -1;
  server.engine_.Tick(server.Now());
}

void Server::Continue(Client& client) {
  const auto it = connections_.find(client.id());
  if (it == connections_.end()) return;
  QueueFlush(*it->second);
  Continue(*it->second, Now());
}

void Server::Close(Client& client) {
  const auto it = connections_.find(client.id());
  if (it != connections_.end()) Close(*it->second, "killed by CLIENT KILL");
}

void Server::OnPrepare(uv_prepare_t* prepare) {
  Server& server = *static_cast<Server*>(prepare->data);
  server.engine_.EndTurn(server.Now(), server, &server.peer_outbox_);
  server.SaveMembership();
  // Nothing this turn produced leaves before what it changed is durable,
  // but this member's own proposals, which depend on none of it.
  server.SendBeforeSync();
  server.CommitChanges();
  if (server.log_rewrite_ && !server.log_failing_) server.ContinueSnapshot(server.Now());
  if (server.log_failing_) {
    // What they would carry may not be durable: to the peers, lost.
    server.peer_outbox_.clear();
  } else if (server.peers_) {
    for (const cluster::Message& message : server.peer_outbox_) server.peers_->Send(message);
    server.peers_->FlushAll();
  }
  std::vector<uint64_t> queue;
  queue.swap(server.flush_queue_);
  server.flushing_turn_ = true;
  for (const uint64_t id : queue) {
    const auto it = server.connections_.find(id);
    if (it == server.connections_.end()) continue;
    it->second->queued_for_flush = false;
    server.Flush(*it->second);
  }
  server.flushing_turn_ = false;
  queue.clear();
  std::vector<uint64_t> drained;
  drained.swap(server.continue_after_flush_);
  for (const uint64_t id : drained) {
    const auto it = server.connections_.find(id);
    if (it != server.connections_.end()) server.Continue(*it->second, server.Now());
  }
  drained.clear();
  if (server.continue_after_flush_.empty()) server.continue_after_flush_.swap(drained);
  if (server.flush_queue_.empty()) server.flush_queue_.swap(queue);  // Keep the capacity.
  if (server.shutdown_requested_ != 0) {
    const bool save = server.shutdown_requested_ == 1;
    server.Shutdown(save ? "SHUTDOWN" : "SHUTDOWN NOSAVE", save);
    return;
  }
  server.RearmTimer();
  server.MeasureLoopTurn();
}

void Server::RearmTimer() {
  if (shutting_down_) return;
  std::optional<int64_t> next = engine_.NextWakeMs();
  const int64_t now_ms = static_cast<int64_t>(uv_now(&loop_));
  // Work left for the next turn (woken waiters, resumed input): do not sleep.
  if (engine_.HasPendingWork() || !flush_queue_.empty()) next = now_ms;
  if (log_rewrite_ && !log_rewrite_->snapshot_taken) next = now_ms;  // The next part.
  if (!next) {
    if (timer_due_ms_ != -1) uv_timer_stop(&timer_);
    timer_due_ms_ = -1;
    return;
  }
  if (*next == timer_due_ms_) return;
  const int64_t delay_ms = std::max<int64_t>(0, *next - now_ms);
  uv_timer_start(&timer_, OnTimer, static_cast<uint64_t>(delay_ms), 0);
  timer_due_ms_ = *next;
}

void Server::OnSignal(uv_signal_t* signal, int signum) {
  Server& server = *static_cast<Server*>(signal->data);
  server.Shutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Server::OnIgnoredSignal(uv_signal_t*, int signum) {
  const char* name = sigabbrev_np(signum);
  Log(LogLevel::kNotice, "Received SIG%s: ignored (SIGTERM or SHUTDOWN stop lockerd; settings "
      "change with a restart)", name != nullptr ? name : "?");
}

std::vector<uv_handle_t*> Server::SignalAndTimerHandles() {
  return {reinterpret_cast<uv_handle_t*>(&timer_),   reinterpret_cast<uv_handle_t*>(&cron_),
          reinterpret_cast<uv_handle_t*>(&idle_timer_), reinterpret_cast<uv_handle_t*>(&prepare_),
          reinterpret_cast<uv_handle_t*>(&sigterm_), reinterpret_cast<uv_handle_t*>(&sigint_),
          reinterpret_cast<uv_handle_t*>(&sighup_),  reinterpret_cast<uv_handle_t*>(&sigusr1_),
          reinterpret_cast<uv_handle_t*>(&sigusr2_)};
}

void Server::Shutdown(const char* why, bool save) {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (log_) AbandonCompaction("shutting down");
  // With appendonly yes the log is the fallback if the save fails.
  if (why != nullptr) CommitChanges(/*all=*/true);
  // A peer's answer read in this loop phase may have changed the
  // configuration state since the last turn's write.
  SaveMembership();
  if (why != nullptr && save) {
    const Time now = Now();
    const cluster::NodeState state = engine_.node().Save(now);
    const auto leases = static_cast<size_t>(std::count_if(
        state.registers.begin(), state.registers.end(), [](const auto& reg) { return reg.held; }));
    Log(LogLevel::kNotice, "Received %s: saving %zu leases (%zu registers in all) to %s and shutting down",
        why, leases, state.registers.size(), state_store_.state_path().c_str());
    if (const std::string error = state_store_.SaveClean(state, {now.wall_ms, ReadBootStamp()});
        !error.empty()) {
      Log(LogLevel::kWarning, "Could not save state: %s; the next start will quarantine",
          error.c_str());
      exit_code_ = 1;
    }
  } else if (why != nullptr) {
    if (log_) {
      Log(LogLevel::kNotice, "Received %s: shutting down without saving; the next start replays %s",
          why, log_->path().c_str());
    } else {
      Log(LogLevel::kWarning, "Received %s: shutting down without saving; the next start will "
          "quarantine as after a crash", why);
    }
  }
  if (peers_) peers_->Stop();
  for (uv_tcp_t* listener : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
  }
  listeners_.clear();
  std::vector<Connection*> open;
  for (const auto& [id, connection] : connections_) open.push_back(connection);
  for (Connection* connection : open) Close(*connection, "server shutting down");
  for (uv_handle_t* handle : SignalAndTimerHandles()) {
    if (handle->loop == &loop_ && !uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  if (why != nullptr) Log(LogLevel::kNotice, "lockerd is now ready to exit, bye bye...");
}

}  // namespace lockerd::server
