// The network server: one libuv loop, the listening sockets, the client
// connections, one timer for everything the engine waits for, and the
// signals that stop it. It reads the clock once per callback and passes the
// time to the engine; replies are batched and written once per loop turn.
//
// One class, its methods in files by job: server.cc (start, loop turn,
// signals, stop), member_start.cc (restoring from `dir`), connection_io.cc
// (accept, read, run, close), connection_writes.cc (flush, TLS output,
// output limits), housekeeping.cc (idle timeout, cron, loop stalls).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/config/config.h"
#include "server/net/connection.h"
#include "server/data_dir.h"
#include "server/engine/engine.h"
#include "server/net/idle_list.h"
#include "server/config/limits.h"
#include "server/peer/links.h"
#include "base/log.h"
#include "server/membership_file.h"
#include "server/state_file.h"
#include "server/append_log.h"
#include "server/net/tls.h"

namespace lockerd::server {

// The engine's driver (turn_driver.h): Continue and Close are its half of
// the end of every loop turn.
class Server : private TurnDriver {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the previous run's state, listens and serves until SIGTERM or
  // SIGINT. Returns the process exit code.
  int Run();

 private:
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnTlsConnection(uv_stream_t* listener, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* request, int status);
  static void OnClose(uv_handle_t* handle);
  static void OnTimer(uv_timer_t* timer);
  static void OnCron(uv_timer_t* timer);
  static void OnIdleTimer(uv_timer_t* timer);
  static void OnPrepare(uv_prepare_t* prepare);
  void MeasureLoopTurn();
  static void OnSignal(uv_signal_t* signal, int signum);
  static void OnIgnoredSignal(uv_signal_t* signal, int signum);

  Time Now();
  bool Listen();
  bool ListenOn(int port, uv_connection_cb on_connection);
  // Locks `dir`, checks its member list and starts the node from what the
  // last run left (cluster::Node::Start). False: cannot start.
  bool Restore();
  void LogStart(const cluster::StartReport& report, const PreviousRun& previous,
                const cluster::StartFacts& facts);
  // Logs the end of a quarantine or a recovery (from the cron).
  void NoteVotingState(Time now);
  void Accept(uv_stream_t* listener, bool tls);
  // A TLS connection's ciphertext in: feeds the session and processes the
  // plaintext that comes out.
  void ReadTls(Connection& connection, std::string_view ciphertext);
  // Plaintext in (from the socket, or out of the TLS session).
  void Receive(Connection& connection, std::string_view data);
  void Refuse(uv_tcp_t* handle, std::string_view reply);
  // Parses and runs commands from `input` until it is used up or the client
  // blocks, must close, or is over its output limit; the rest is held.
  void Process(Connection& connection, std::string_view input, Time now);
  void ResumeHeldInput(Connection& connection, Time now);
  // Resumes the held input of a client that is no longer blocked, or
  // updates whether it is read.
  void Continue(Connection& connection, Time now);
  // Replies "ERR <error>" and closes after the reply: the stream cannot be
  // trusted any more.
  void FailProtocol(Connection& connection, std::string_view error, LogLevel level);
  void QueueFlush(Connection& connection);
  void Flush(Connection& connection);
  // Flush for a TLS connection: encrypts replies a chunk at a time and
  // writes the ciphertext, so that plaintext waiting still counts against
  // the output limits and a huge reply is not doubled in memory.
  void FlushTls(Connection& connection);
  // Writes connection.inflight: true when it all went at once; false when
  // the rest is in flight (OnWrite comes next) or the connection closed.
  bool WriteOut(Connection& connection);
  // The next ciphertext to write into connection.inflight; false if none.
  bool TakeTlsOutput(Connection& connection);
  // Called when a connection has no reply bytes left to send.
  void Drained(Connection& connection);
  void CheckOutputLimits(Connection& connection, Time now);
  void UpdateReading(Connection& connection);
  void Close(Connection& connection, const char* why);
  // The `timeout` setting: records that a client made progress (bytes read
  // or written), and closes the clients idle too long.
  void NoteProgress(Connection& connection, int64_t now_ms);
  void CloseIdleClients(int64_t now_ms);
  void ArmIdleTimer(int64_t now_ms);
  void Continue(Client& client) override;
  void Close(Client& client) override;
  // Called by the cron: once many connections have closed, returns the
  // memory they used to the system.
  void TrimMemoryAfterFlood();
  void RearmTimer();
  std::vector<uv_handle_t*> SignalAndTimerHandles();
  // Stops serving. `why` is logged; with `save`, the state is saved and the
  // running marker removed (a clean stop); without, the marker stays and
  // the next start quarantines. A null `why`: a failed start, nothing saved.
  void Shutdown(const char* why, bool save = true);
  // appendonly yes (durability.cc): opens the log, its first record the
  // state the member starts from. False: cannot start.
  bool OpenLog(const PreviousRun& previous, Time now);
  // Group commit: what this turn changed so far goes to the log and is
  // synced before anything leaves the member (replies, peer messages),
  // but for promises the round reserve covers, which wait for a later
  // sync unless `all`. A failed write or sync starts LogFailed.
  void CommitChanges(bool all = false);
  // Before this turn's commit: sends the peer messages that may leave
  // while it syncs (cluster::Node::MaySendBeforeSync: this member's own
  // proposals), so that its sync and its peers' overlap.
  void SendBeforeSync();
  // Writes the configuration state when the node changed it: before
  // anything of the turn leaves (server/membership_file.h). A member that
  // cannot keep what it voted for stops, as after a crash.
  void SaveMembership();
  // Takes the node's changes since the last call into the log's queue.
  void QueueChanges(Time now);
  // The log could not be written or synced (a full disk, an I/O error):
  // nothing this turn produced leaves (peer messages are dropped, as if
  // lost; connections with unsent replies are closed, as in a crash), and
  // until a sync succeeds again the member refuses writes with -MISCONF
  // and drops peer messages both ways (Engine::SetCannotPersist), so
  // nothing that leaves depends on what is not durable. Reads go on.
  void LogFailed(const std::string& error);
  // Called each second while the log is failing: writes and syncs what is
  // queued; on success the member takes writes and peer messages again.
  void RetryLog();
  void NoteSynced(Time now, uint64_t start_ns);
  // While failing: a rewrite of the whole state in place of the queue.
  bool RewriteToRecover(Time now);
  // Rewrites the log as one full record once it has grown enough
  // (auto-aof-rewrite-*): the snapshot is taken in the loop, written and
  // synced by a worker thread, and FinishCompaction puts it in place.
  void MaybeCompactLog(Time now);
  // A compaction under way: the snapshot and where it goes, for a worker
  // thread that touches nothing else, and what it reports back.
  struct LogRewrite {
    uv_work_t work{};
    Server* server = nullptr;
    std::string path;
    // Taken a part per loop turn (kLogSnapshotSlotsPerTurn slots), so that
    // no turn stalls long; then handed to the worker.
    std::vector<LogBatch> parts;
    size_t next_slot = 0;
    bool snapshot_taken = false;
    bool tail_taken = false;  // The worker's second step: what came meanwhile.
    std::string tail;
    std::string error;  // The worker's.
    uint64_t started_ns = 0;
    uint64_t size_before = 0;
    int64_t snapshot_us = 0;          // The loop's share: taking the parts.
    int64_t longest_part_us = 0;
  };
  // Takes the next part of the snapshot (after the turn's commit), and once
  // it is whole hands it to a worker thread.
  void ContinueSnapshot(Time now);
  void QueueCompactionWork();
  void CompactionWorkDone();
  void FinishCompaction();
  void AbandonCompaction(const char* why);
  // Closes `fd` on a worker thread (the old log after a compaction: its
  // last close frees its blocks).
  void CloseOffTheLoop(int fd);

  Config config_;
  uv_loop_t loop_{};
  Engine engine_;
  DataDir data_dir_;
  StateStore state_store_;
  MembershipFile membership_file_;
  std::unique_ptr<AppendLog> log_;  // appendonly yes.
  uint64_t log_size_after_rewrite_ = 0;
  std::unique_ptr<LogRewrite> log_rewrite_;  // A compaction under way.
  bool log_failing_ = false;      // LogFailed until RetryLog succeeds.
  int64_t log_failed_at_ms_ = 0;  // Monotonic.
  int64_t last_recovery_rewrite_ms_ = INT64_MIN / 2;
  std::vector<uv_tcp_t*> listeners_;
  uv_timer_t timer_{};
  uv_timer_t cron_{};
  uv_prepare_t prepare_{};
  uint64_t turn_started_ns_ = 0;  // When the last loop turn ended (prepare).
  uint64_t turn_idle_ns_ = 0;     // The loop's idle time then.
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  // Signals that must not end the process: logged and ignored.
  uv_signal_t sighup_{};
  uv_signal_t sigusr1_{};
  uv_signal_t sigusr2_{};
  bool was_voting_ = true;  // Last seen by NoteVotingState.
  // The previous stop was unclean, or the member list changed: a failed
  // start leaves the running marker, so the next start still quarantines.
  bool start_must_quarantine_ = false;
  // The state this start restored is in the log alone (not yet saved
  // elsewhere): a failed start must not drop the marker that says so.
  bool loaded_from_log_ = false;
  uint64_t fallbacks_seen_ = 0;
  uint64_t first_starts_with_history_seen_ = 0;
  uint64_t first_starts_undecided_seen_ = 0;
  // A member with an empty dir joins (epoch 0): logged when it learns a
  // configuration, and once when that takes long.
  uint64_t epoch_seen_ = 1;
  int64_t joining_since_ms_ = 0;
  bool joining_warned_ = false;
  bool joined_wait_warned_ = false;  // Waiting, joined, for every voter.
  int64_t timer_due_ms_ = -1;  // When timer_ fires next; -1 when stopped.
  // Client connections by last progress, and the one timer armed for the
  // head's deadline (`timeout`); unused when the setting is 0.
  IdleList idle_list_;
  uv_timer_t idle_timer_{};
  bool idle_timer_armed_ = false;
  std::unordered_map<uint64_t, Connection*> connections_;
  size_t connections_peak_ = 0;  // Most connections since the last trim.
  // What the cron looks at each second, so that it never sweeps every
  // connection: those over the soft output limit, and those let in only to
  // be peers that have not said PEER HELLO yet.
  std::unordered_set<Connection*> over_soft_;
  std::unordered_set<Connection*> awaiting_hello_;
  std::vector<uint64_t> flush_queue_;
  // OnPrepare's flush of the turn's replies: connections that drained then
  // continue after it (Drained), so the turn's replies cost one commit.
  bool flushing_turn_ = false;
  std::vector<uint64_t> continue_after_flush_;
  std::unique_ptr<TlsContext> tls_;  // With tls-port or tls-cluster.
  std::string tls_read_plain_;       // Plaintext of the TLS read at hand.
  std::unique_ptr<PeerLinks> peers_;  // In a cluster: links to the other members.
  std::vector<cluster::Message> peer_outbox_;
  std::vector<cluster::Message> early_outbox_;  // SendBeforeSync's, kept for its capacity.
  std::string read_buffer_;
  bool shutting_down_ = false;
  int shutdown_requested_ = 0;  // By SHUTDOWN: 1 to save, 2 not to.
  int exit_code_ = 0;
};

}  // namespace lockerd::server
