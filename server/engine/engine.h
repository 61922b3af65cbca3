// The command layer without IO: it executes parsed commands for clients,
// routes lock writes through the cluster node (a majority of one when alone),
// keeps blocked clients and answers them when a key is freed or their
// timeout passes. The libuv server (server.h) feeds it commands and the time
// and flushes what it writes; tests drive it directly with a fake clock.
// Both end each loop turn with EndTurn (turn_driver.h).
//
// One class, its methods in files by job: engine.cc (clients, users,
// dispatch), write_path.cc (writes through the node and their replies in
// order), key_waits.cc (blocked clients and freed keys), loop_turn.cc
// (EndTurn, timers, attention).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/node.h"
#include "cluster/txn.h"
#include "cluster/string_hash.h"
#include "server/security/acl.h"
#include "server/engine/client.h"
#include "server/engine/command_spec.h"
#include "server/config/config.h"
#include "server/engine/latency_stats.h"
#include "server/engine/turn_driver.h"
#include "server/peer/peer_status.h"
#include "server/script/lua_engine.h"
#include "server/script/script_value.h"
#include "server/engine/waiters.h"

namespace lockerd::server {


using cluster::Time;

// How a write's outcome is answered.
enum class ReplyStyle : uint8_t {
  kToken,    // LOCK, EXTEND, UPDATE: the token, or null.
  kOk,       // SET NX: +OK, or null.
  kOneZero,  // RELEASE: :1 or :0.
  kDelete,   // DEL: one of several keys; the batch replies with a count.
  kScript,   // EVAL: the script's own reply, kept with the pending write.
  kMembership,  // MEMBERS ADD|REMOVE|PROMOTE|DEMOTE: +OK, or why not.
};

struct EngineStats {
  uint64_t connections_received = 0;
  uint64_t connections_rejected = 0;
  uint64_t commands_processed = 0;
  uint64_t error_replies = 0;
  uint64_t locks_granted = 0;
  uint64_t locks_denied = 0;  // LOCK/SET answered null: held by another owner.
  uint64_t releases = 0;
  uint64_t extends = 0;
  uint64_t waits_started = 0;
  uint64_t waits_timed_out = 0;
  uint64_t waits_woken = 0;
  uint64_t noquorum_replies = 0;
  uint64_t protocol_errors = 0;
  uint64_t tls_handshake_failures = 0;  // Wrong CA, no certificate, not TLS at all.
  uint64_t output_limit_disconnects = 0;
  uint64_t idle_timeout_disconnects = 0;  // Closed by the `timeout` setting.
  uint64_t peer_messages_in = 0;
  uint64_t peer_messages_malformed = 0;
  uint64_t peer_handshakes_refused = 0;
  // As Redis 7.2's INFO: failed AUTHs, commands and keys refused by ACL
  // rules (before a command runs; refusals inside scripts are not counted).
  uint64_t acl_denied_auth = 0;
  uint64_t acl_denied_cmd = 0;
  uint64_t acl_denied_key = 0;
  // Event-loop turns (measured by the server): the longest time one turn
  // kept the loop busy, and how many turns were busy longer than 10 ms.
  uint64_t loop_longest_stall_us = 0;
  uint64_t loop_stalls_over_10ms = 0;
};

// Facts about the process that INFO reports and the engine cannot know.
struct ProcessInfo {
  int tcp_port = 0;
  int pid = 0;
  std::string os;
  size_t leases_loaded = 0;
  bool unclean_start = false;
  int64_t started_wall_ms = 0;
  int64_t started_mono_ms = 0;
  std::string executable;
  std::string config_file;
  std::string run_id;
  // The append-only log (appendonly yes), for INFO persistence.
  struct AppendOnly {
    bool enabled = false;
    uint64_t size_bytes = 0;
    uint64_t syncs = 0;
    int64_t last_sync_us = 0;      // How long the last sync took.
    int64_t longest_sync_us = 0;
    uint64_t rewrites = 0;
    int64_t last_rewrite_us = 0;   // How long the last compaction took.
    bool loaded_from_log = false;  // This start replayed it.
    int64_t last_sync_wall_ms = 0;    // When the last sync succeeded.
    int64_t last_rewrite_wall_ms = 0;
    // A failed write or sync, until one succeeds again (Server::LogFailed).
    std::string write_error;          // The system's message; empty: ok.
    uint64_t write_failures = 0;      // Failed syncs, retries included.
    bool last_rewrite_failed = false;
    bool rewrite_in_progress = false;
    int64_t last_rewrite_snapshot_us = 0;  // The loop's share of the last compaction.
    int64_t last_rewrite_longest_part_us = 0;  // Its longest turn.
    int64_t last_rewrite_finish_us = 0;  // Its last step, in the loop.
    uint64_t rewrites_consecutive_failures = 0;
  };
  AppendOnly append_only;
  // The peer links' view, for INFO cluster (set by the server in a cluster).
  std::function<std::vector<PeerStatus>()> peer_status;
  // Called when a peer proves itself (PEER HELLO): it is up, so our link to
  // it need not wait out its reconnect backoff.
  std::function<void(cluster::MemberId)> on_peer_hello;
  // SHUTDOWN: stops the server at the end of this loop turn, saving the
  // state unless `save` is false (set by the server).
  std::function<void(bool save)> shutdown;
};

class Engine {
 public:
  // `commands`: what it runs (lockerd's: server/commands/command_table.h's
  // LockerdCommands()), kept for the engine's life. `seed` keys the hashing
  // of client-chosen keys and the backoff jitter: random in the server,
  // fixed in tests.
  Engine(const CommandSet& commands, Config config, Time now, uint64_t seed = 1);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Clients are registered for their whole connection; the caller owns them.
  uint64_t NextClientId() { return next_client_id_++; }
  void AddClient(Client* client);
  void RemoveClient(Client* client);
  Client* FindClient(uint64_t id) const;
  const std::map<uint64_t, Client*>& clients() const { return clients_; }

  // Runs one command. Its reply (if it has one yet) is in client.reply();
  // client.blocked says whether it waits for a majority or a key.
  void Execute(Client& client, std::span<const std::string> args, Time now);
  static bool PipelinedWrite(const CommandSpec& spec, std::span<const std::string> args);
  static bool RunsInsideMulti(const CommandSpec& spec);
  bool RefusedWhileNotDurable(const CommandSpec& spec, const Client& client,
                              std::span<const std::string> args) const;
  // Runs the command that waited for the client's pipelined writes
  // (Client::deferred), once they are done; the server calls it.
  void RunDeferred(Client& client, Time now);

  // Timers: lease expiry, write timeouts, wait timeouts.
  void Tick(Time now);
  std::optional<int64_t> NextWakeMs() const;

  // Ends a loop turn (turn_driver.h): serves the waiters of keys freed in
  // it, runs what clients deferred behind their pipelined writes, hands
  // every client that got a reply or a kill from outside its own command
  // to `driver` (in a bounded number of rounds: what they run may free
  // more keys), then puts the turn's messages for peers in `peer_messages`
  // (replacing what it held).
  void EndTurn(Time now, TurnDriver& driver, std::vector<cluster::Message>* peer_messages);
  // True while ready keys or attention wait to be handled (work EndTurn
  // left for the next turn).
  bool HasPendingWork() const { return !ready_order_.empty() || !attention_.empty(); }

  // The write path every lock command uses.
  void SubmitWrite(Client& client, cluster::WriteRequest request, ReplyStyle style, Time now);
  // A change of the configuration (MEMBERS ADD ...); `what` names it in
  // the errors the client gets.
  void SubmitMembershipChange(Client& client, cluster::MembershipRequest request, std::string what,
                              Time now);
  // LOCK ... WAIT: on refusal the client waits until `deadline_ms`.
  void SubmitLockWait(Client& client, cluster::WriteRequest request, int64_t deadline_ms,
                      bool front_of_line, Time now);
  // DEL: one write per key; one reply with the count when all are done.
  void SubmitDelete(Client& client, std::span<const std::string> keys, Time now);
  // EVAL over declared keys: a transaction through the majority; the
  // script writes its reply into `reply` each time it runs.
  void SubmitScript(Client& client, cluster::TxnRequest request,
                    std::shared_ptr<script::ScriptValue> reply, Time now);
  script::LuaEngine& lua() { return lua_; }
  const script::LuaEngine& lua() const { return lua_; }
  // WAIT key timeout, for a held key: blocks until it is freed.
  void StartObserve(Client& client, std::string_view key, int64_t deadline_ms);

  // First come, first served: while LOCK ... WAIT clients are queued on a
  // key, a newcomer (other than the holder renewing) must not take it first.
  bool MustQueue(std::string_view key, std::string_view owner, Time now) const;
  // Queues a LOCK ... WAIT behind the clients already waiting, without a round.
  void QueueBehindWaiters(Client& client, cluster::WriteRequest request, int64_t deadline_ms);

  void ReplyError(Client& client, std::string_view text);

  // appendonly yes and the log cannot be made durable (`why`, the system's
  // message; empty again once it can): as Redis does, write commands, PING
  // and EXEC of queued writes answer -MISCONF, and so do lock writes and
  // scripts already on their way (LOCK ... WAIT woken); messages from
  // peers are dropped (this member takes no part in rounds: what it would
  // promise could not be kept). Reads go on.
  void SetCannotPersist(std::string why) {
    cannot_persist_ = std::move(why);
    if (cannot_persist_.empty()) not_durable_keys_.clear();
  }
  const std::string& cannot_persist() const { return cannot_persist_; }
  // While it cannot persist: `key` changed since the last sync. Reads of it
  // (and walks of every key: KEYS, SCAN, DBSIZE) answer -MISCONF as well, so
  // that nobody sees a state a crash would make the member forget.
  void NoteNotDurable(std::string key) { not_durable_keys_.insert(std::move(key)); }

  // Cluster traffic: a message from a peer, and the messages for peers that
  // the node produced since the last call (the server batches them per peer
  // and writes once per loop turn).
  void ReceivePeer(const cluster::Message& message, Time now);
  // A peer link went up or down.
  void SetPeerReachable(cluster::MemberId member, bool reachable) {
    node_.SetPeerReachable(member, reachable);
  }
  size_t members_count() const { return node_.options().membership.voter_count(); }
  cluster::MemberId self() const { return node_.options().self; }
  // CLIENT KILL of another client: the server closes it on its next turn.
  void RequestKill(Client& client);

  cluster::Node& node() { return node_; }
  const cluster::Node& node() const { return node_; }
  const Config& config() const { return config_; }
  const AclUsers& acl() const { return acl_; }
  // Connects `client` as `user` (AUTH, HELLO AUTH), or as the default user
  // (connect, RESET): authenticated then only if it is on and nopass.
  void SetUser(Client& client, std::shared_ptr<const AclUser> user);
  void SetDefaultUser(Client& client);
  // The user `client` runs as.
  const AclUser& UserOf(const Client& client) const;
  EngineStats& stats() { return stats_; }
  const EngineStats& stats() const { return stats_; }
  const WaiterQueue& waiters() const { return waiters_; }
  const LatencyStats& write_latency() const { return write_latency_; }
  ProcessInfo& process() { return process_; }
  const ProcessInfo& process() const { return process_; }
  size_t blocked_clients() const;

 private:
  // Serves waiters of keys freed since the last call, first come first
  // served (EndTurn, once per round).
  void ServeReadyKeys(Time now);
  // Clients that got a reply or a kill from outside their own command.
  std::vector<uint64_t> TakeAttention();
  struct PendingWrite {
    uint64_t client_id = 0;
    ReplyStyle style = ReplyStyle::kToken;
    cluster::WriteOp op = cluster::WriteOp::kLock;
    bool wait = false;  // LOCK ... WAIT
    bool front_of_line = false;
    int64_t deadline_ms = kNoDeadline;
    cluster::WriteRequest request;  // Kept only for LOCK ... WAIT.
    uint64_t freed_seq_at_start = 0;  // LOCK ... WAIT: see wait_flights_.
    bool freed_in_flight = false;     // The key was freed while it ran.
    uint64_t delete_batch = 0;
    int64_t started_us = 0;  // For the quorum latency statistics.
    // A pipelined write: its reply goes into this slot of the client's.
    bool pipelined = false;
    bool slotted = false;  // Left in flight by its command: it owns `slot`.
    uint64_t slot = 0;
    std::shared_ptr<script::ScriptValue> script_reply;  // kScript.
    std::string membership_change;                      // kMembership: the command.
  };
  struct DeleteBatch {
    uint64_t client_id = 0;
    size_t remaining = 0;
    int64_t deleted = 0;
    std::string error;
  };

  // Replies with an error and returns false for a write that breaks a limit
  // (key or owner length, maxkeys).
  bool Admit(Client& client, const cluster::WriteRequest& request, Time now);
  // Stops watching `key` for releases once no one waits for it and no
  // waiting round for it is in flight.
  void UnwatchIfUnused(const std::string& key);
  void Submit(Client& client, cluster::WriteRequest request, PendingWrite pending, Time now);
  // Hands a write to the node; its result comes out of Drain().
  void Enqueue(cluster::WriteRequest request, PendingWrite pending, Time now);
  // Takes results and freed keys out of the node and acts on them.
  void Drain(Time now);
  void ReplyToWrite(Client& client, PendingWrite& pending, const cluster::WriteResult& result,
                    Time now);
  void HandleResult(const cluster::WriteResult& result, Time now);
  void HandleDeleteResult(const cluster::WriteResult& result, uint64_t batch_id);
  bool StartWait(Client& client, Waiter waiter, bool front_of_line);
  void Unblock(Client& client);
  void Attention(Client& client);
  void ForgetWait(const Waiter& waiter);
  // Queues `key` for ServeReadyKeys. `freed`: this member saw the lease end
  // (observers wake even if someone takes the key again at once); otherwise
  // a maybe-free key to look at (it is served only if free here then).
  void MarkReady(const std::string& key, bool freed);

  const CommandSet& commands_;
  Config config_;
  std::string cannot_persist_;  // SetCannotPersist.
  std::set<std::string, std::less<>> not_durable_keys_;
  AclUsers acl_;  // Built from config_: declared after it.
  cluster::Node node_;
  std::map<uint64_t, Client*> clients_;
  uint64_t next_client_id_ = 1;
  // The client whose command is running (its own caller handles it: see
  // Attention). Where its reply goes is the client's (reply_order.h).
  uint64_t executing_client_id_ = 0;
  uint64_t next_request_id_ = 1;
  uint64_t next_delete_batch_ = 1;
  std::unordered_map<uint64_t, PendingWrite> pending_writes_;
  std::unordered_map<uint64_t, DeleteBatch> delete_batches_;
  WaiterQueue waiters_;
  cluster::StringMap<bool> ready_keys_;    // Key -> freed (see MarkReady).
  std::vector<std::string> ready_order_;  // ready_keys_ in the order marked.
  std::vector<uint64_t> attention_;
  // When to look again at a key whose LOCK ... WAIT was refused: when the
  // holder's lease would end, in case this member misses the release.
  std::set<std::pair<int64_t, std::string>> rechecks_;
  // LOCK ... WAIT rounds in flight, per key, and when the key was last seen
  // freed (a number from freed_seq_). A release that lands while a waiting
  // round is in flight must not be lost: the round may come back refused on
  // what the members said before the release, and the client would then
  // wait for a wake-up that has already happened.
  struct WaitFlight {
    uint32_t rounds = 0;
    uint64_t freed_seq = 0;
  };
  cluster::StringMap<WaitFlight> wait_flights_;
  uint64_t freed_seq_ = 0;
  std::vector<cluster::WriteResult> results_scratch_;
  EngineStats stats_;
  LatencyStats write_latency_;
  ProcessInfo process_;
  script::LuaEngine lua_;
};

}  // namespace lockerd::server
