#include "server/net/server.h"

#include <malloc.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "cluster/check.h"
#include "protocol/cross_protocol.h"
#include "base/errors.h"
#include "base/log.h"
#include "server/net/net_address.h"

namespace lockerd::server {
namespace {

// A reply or input buffer bigger than this is freed once empty, so that one
// big reply does not pin memory for the connection's lifetime.
constexpr size_t kBufferKeepBytes = 64 * 1024;
// The cron timer: soft output limits are checked this often.
constexpr uint64_t kCronIntervalMs = 1000;
// After this many connections have closed since the last peak, the cron
// hands free heap pages back to the system (malloc_trim): glibc returns
// only the top of the heap by itself, so a flood of 10,000 connections
// would otherwise pin their memory after they are gone.
constexpr size_t kTrimAfterConnectionsClosed = 1000;
constexpr int kListenBacklog = 511;

int64_t WallMs() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

Time InitialTime() { return {static_cast<int64_t>(uv_hrtime() / 1'000'000), WallMs()}; }

void ReleaseIfBig(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kBufferKeepBytes) std::string().swap(buffer);
}

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

Connection& ConnectionOf(uv_handle_t* handle) { return *static_cast<Connection*>(handle->data); }

}  // namespace

Server::Server(Config config)
    : config_(std::move(config)),
      engine_(config_, InitialTime(), RandomSeed()),
      data_dir_(config_.dir),
      state_store_(config_.dir),
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

bool Server::Restore() {
  // Nothing in dir is read before its lock is held: a second process on
  // one dir would take the first one's running marker for a crash of its
  // own, or save over its state.
  if (const std::string error = data_dir_.Lock(); !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    return false;
  }
  const PreviousRun previous = state_store_.Load();
  // The running marker goes down before anything in dir changes (the member
  // list below): from here on, a stop without a saved state is unclean.
  if (const std::string error = state_store_.MarkRunning(); !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s (check the dir setting)", error.c_str());
    return false;
  }
  start_must_quarantine_ = previous.unclean || !previous.problem.empty();
  DataDir::Members members{config_.cluster, config_.cluster.empty() ? "" : config_.advertise};
  bool list_changed = false;
  if (const std::string error = data_dir_.CheckMembers(members, config_.cluster_list_changed, &list_changed);
      !error.empty()) {
    Log(LogLevel::kWarning, "Cannot start: %s", error.c_str());
    if (!start_must_quarantine_) state_store_.ClearRunning();  // Nothing happened.
    return false;
  }
  start_must_quarantine_ = start_must_quarantine_ || list_changed;
  cluster::StartFacts facts;
  facts.unclean = previous.unclean || !previous.problem.empty();
  facts.members_changed = list_changed;
  facts.saved = previous.saved;
  // The monotonic and the boot clock read together, after the loading: a
  // restored lease's time left counts from this instant.
  const Time now = Now();
  if (previous.saved) {
    facts.downtime_ms = ElapsedWithinBoot(previous.saved_at.boot, ReadBootStamp());
    facts.wall_downtime_ms = std::max<int64_t>(0, now.wall_ms - previous.saved_at.wall_ms);
  }
  const cluster::StartReport report = engine_.node().Start(facts, now);
  engine_.process().leases_loaded = report.leases_loaded;
  engine_.process().unclean_start = report.kind == cluster::StartKind::kUnclean;
  LogStart(report, previous, facts);
  was_voting_ = !engine_.node().Quarantined(now);
  return true;
}

void Server::LogStart(const cluster::StartReport& report, const PreviousRun& previous,
                      const cluster::StartFacts& facts) {
  const auto quarantine_ms = static_cast<long long>(report.quarantine_ms);
  switch (report.kind) {
    case cluster::StartKind::kFirst:
      Log(LogLevel::kNotice, "First start with dir %s", config_.dir.c_str());
      if (report.checking_new) {
        Log(LogLevel::kNotice,
            "Empty dir in a cluster: asking the other members whether the cluster is new (this "
            "member may have lost its disk) before voting");
      }
      break;
    case cluster::StartKind::kClean:
      Log(LogLevel::kNotice, "Loaded %zu registers (%zu leases) from %s (down for %lld ms by the boot clock)",
          report.registers_loaded, report.leases_loaded, state_store_.state_path().c_str(),
          static_cast<long long>(*facts.downtime_ms));
      break;
    case cluster::StartKind::kCleanAfterReboot:
      Log(LogLevel::kNotice,
          "Loaded %zu registers (%zu leases) from %s, saved before the machine rebooted: the "
          "downtime is unknown, so leases are kept whole",
          report.registers_loaded, report.leases_loaded, state_store_.state_path().c_str());
      break;
    case cluster::StartKind::kUnclean:
      if (facts.members_changed) {
        Log(LogLevel::kWarning,
            "The member list changed on purpose (cluster-list-changed yes): starting as after a "
            "crash, since a lease granted under the old list may still be held");
      } else if (!previous.problem.empty()) {
        Log(LogLevel::kWarning, "Ignoring unreadable state (%s); treating the last stop as unclean",
            previous.problem.c_str());
      } else {
        Log(LogLevel::kWarning, "The last run did not shut down cleanly (%s exists)",
            state_store_.marker_path().c_str());
      }
      break;
  }
  if (report.quarantine_ms > 0) {
    Log(LogLevel::kWarning,
        "Restart quarantine: this member does not vote for %lld ms (locks it granted may still be "
        "held); lock writes need a majority of the other members meanwhile",
        quarantine_ms);
  }
  if (report.recovering) {
    Log(LogLevel::kNotice,
        "Recovering: learning the highest ballots and token counters from a majority of the "
        "members that are not recovering themselves");
  }
}

void Server::NoteVotingState(Time now) {
  const cluster::Node& node = engine_.node();
  if (node.recovery_fallbacks() != fallbacks_seen_) {
    fallbacks_seen_ = node.recovery_fallbacks();
    Log(LogLevel::kWarning,
        "Recovery fell back to the whole-cluster rule: a majority of the members lost their state "
        "at once, so ballots and tokens now start from the wall clock");
  }
  if (node.first_starts_with_history() != first_starts_with_history_seen_) {
    first_starts_with_history_seen_ = node.first_starts_with_history();
    Log(LogLevel::kWarning,
        "The other members have voted before: this member's dir was lost or replaced, so it is "
        "starting as after a crash (quarantine %lld ms, then recovery)",
        static_cast<long long>(node.quarantine_until_ms() - now.mono_ms));
  }
  if (node.first_starts_undecided() != first_starts_undecided_seen_) {
    first_starts_undecided_seen_ = node.first_starts_undecided();
    Log(LogLevel::kWarning,
        "Could not tell within five request rounds whether the cluster is new (a member is down "
        "or not started): starting as after a crash (quarantine %lld ms, then recovery)",
        static_cast<long long>(node.quarantine_until_ms() - now.mono_ms));
  }
  const bool voting = !node.Quarantined(now);
  if (voting && !was_voting_) Log(LogLevel::kNotice, "Quarantine over: this member votes again");
  was_voting_ = voting;
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
    connection->client.tls = true;
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
  if (connections_.size() >= config_.maxclients) connection->client.reserved_for_peer = true;
  // As in Redis: protected while the default user needs no password.
  if (config_.protected_mode && engine_.acl().default_user()->nopass() && !IsLoopback(peer)) {
    if (engine_.members_count() > 1) {
      // Peers on other hosts must reach us; such a connection may only
      // prove itself a peer (PEER HELLO with the cluster secret).
      connection->client.peer_only = true;
    } else {
      ++engine_.stats().connections_rejected;
      Log(LogLevel::kWarning, "Refused %s: protected mode (no requirepass, not loopback)",
          connection->client.peer_address().c_str());
      return Refuse(&connection->handle, "-" + std::string(errors::kProtected) + "\r\n");
    }
  }
  uv_tcp_nodelay(&connection->handle, 1);
  if (connection->client.peer_only || connection->client.reserved_for_peer) {
    awaiting_hello_.insert(connection);
  }
  connection->client.last_interaction_ms = now.mono_ms;
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
    connection.client.tls_cert_verified = tls.peer_verified();
    Log(LogLevel::kDebug, "TLS %s with %s (certificate %s)", tls.version().c_str(),
        connection.client.peer_address().c_str(),
        connection.client.tls_cert_verified ? "verified" : "none");
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
    if (client.peer_member >= 0) {
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
  if (connection.client.blocked == BlockKind::kNone && !connection.client.deferred.empty()) {
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

void Server::QueueFlush(Connection& connection) {
  if (connection.queued_for_flush || connection.closing) return;
  connection.queued_for_flush = true;
  flush_queue_.push_back(connection.client.id());
}

void Server::Flush(Connection& connection) {
  if (connection.closing || connection.writing) return;
  if (connection.tls) return FlushTls(connection);
  Client& client = connection.client;
  std::string& reply = client.reply();
  if (!reply.empty()) {
    auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
    uv_buf_t buf = uv_buf_init(reply.data(), static_cast<unsigned>(reply.size()));
    int written = uv_try_write(stream, &buf, 1);
    if (written == UV_EAGAIN) written = 0;
    if (written < 0) return Close(connection, uv_strerror(written));
    if (written > 0) NoteProgress(connection, static_cast<int64_t>(uv_now(&loop_)));
    if (static_cast<size_t>(written) < reply.size()) {
      // The rest goes out with uv_write; its bytes must stay put until the
      // callback, so they move to `inflight` and replies keep accumulating.
      reply.erase(0, static_cast<size_t>(written));
      connection.inflight.swap(reply);
      client.inflight_bytes = connection.inflight.size();
      buf = uv_buf_init(connection.inflight.data(), static_cast<unsigned>(connection.inflight.size()));
      const int status = uv_write(&connection.write_request, stream, &buf, 1, OnWrite);
      if (status != 0) return Close(connection, uv_strerror(status));
      connection.writing = true;
      return;
    }
    reply.clear();
    ReleaseIfBig(reply);
  }
  Drained(connection);
}

void Server::FlushTls(Connection& connection) {
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection.handle);
  while (TakeTlsOutput(connection)) {
    std::string& out = connection.inflight;
    uv_buf_t buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
    int written = uv_try_write(stream, &buf, 1);
    if (written == UV_EAGAIN) written = 0;
    if (written < 0) return Close(connection, uv_strerror(written));
    if (written > 0) NoteProgress(connection, static_cast<int64_t>(uv_now(&loop_)));
    if (static_cast<size_t>(written) < out.size()) {
      // As in Flush: the rest goes out with uv_write and stays put until
      // OnWrite, which comes back here for the next chunk.
      out.erase(0, static_cast<size_t>(written));
      buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
      const int status = uv_write(&connection.write_request, stream, &buf, 1, OnWrite);
      if (status != 0) return Close(connection, uv_strerror(status));
      connection.writing = true;
      return;
    }
    out.clear();
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

void Server::NoteProgress(Connection& connection, int64_t now_ms) {
  // Peers are exempt: their links have their own pings and timeouts.
  if (config_.idle_timeout_seconds == 0 || connection.closing ||
      connection.client.peer_member >= 0) {
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
    if (client.peer_member >= 0) {
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

void Server::OnTimer(uv_timer_t* timer) {
  Server& server = *static_cast<Server*>(timer->data);
  server.timer_due_ms_ = -1;
  server.engine_.Tick(server.Now());
}

void Server::OnCron(uv_timer_t* timer) {
  Server& server = *static_cast<Server*>(timer->data);
  const Time now = server.Now();
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
    if (client.peer_member >= 0) {
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
  if (server.peers_) {
    for (const cluster::Message& message : server.peer_outbox_) server.peers_->Send(message);
    server.peers_->FlushAll();
  }
  std::vector<uint64_t> queue;
  queue.swap(server.flush_queue_);
  for (const uint64_t id : queue) {
    const auto it = server.connections_.find(id);
    if (it == server.connections_.end()) continue;
    it->second->queued_for_flush = false;
    server.Flush(*it->second);
  }
  queue.clear();
  if (server.flush_queue_.empty()) server.flush_queue_.swap(queue);  // Keep the capacity.
  if (server.shutdown_requested_ != 0) {
    const bool save = server.shutdown_requested_ == 1;
    server.Shutdown(save ? "SHUTDOWN" : "SHUTDOWN NOSAVE", save);
    return;
  }
  server.RearmTimer();
  server.MeasureLoopTurn();
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

void Server::RearmTimer() {
  if (shutting_down_) return;
  std::optional<int64_t> next = engine_.NextWakeMs();
  const int64_t now_ms = static_cast<int64_t>(uv_now(&loop_));
  // Work left for the next turn (woken waiters, resumed input): do not sleep.
  if (engine_.HasPendingWork() || !flush_queue_.empty()) next = now_ms;
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
    Log(LogLevel::kWarning, "Received %s: shutting down without saving; the next start will "
        "quarantine as after a crash", why);
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
