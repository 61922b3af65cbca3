// The cluster the bounded explorer walks through: real cluster::Node
// members (member_replay.h), the messages in flight between them
// (network.h), scripted clients and the safety checker of tests/sim
// (explored_clients.h), one real clock, and what is left of each budget.
// Given a state it lists every event that can happen next (Enabled), makes
// one happen (Apply), and digests the state so that the explorer can tell a
// state it has seen.
//
// The network is one of two models. With kMessages every message that can
// arrive next (the oldest of its link, with FIFO links) is a choice of its
// own. With kPartitions the choices are which members are cut off: after
// every event, messages between reachable members arrive at once, in the
// order they were sent, and messages to or from a member cut off wait for
// it to rejoin (or are lost, as a broken link's queue is).
//
// Time passes only through an event that moves it to when some member's
// timer is due (or a member's quarantine ends, or by a fixed step), so that
// a message arrives at the time of the event that delivers it. Every member
// reads the same real time, through a monotonic clock with an origin of its
// own process and a wall clock that a clean restart may step; clocks do not
// drift here (the simulator's do). Members whose timers are due tick at
// once after every event, as a server's loop does.
// A restart or crash is a stop and a start at the same instant, so the
// downtime the boot clock measures is 0; messages to the member are lost,
// and so are those it sent that wait on a link that is down (they were
// still in its process); the rest stay in flight.
//
// A member with the log (appendonly yes) does what the server's loop turn
// does after each call: the messages Node::MaySendBeforeSync lets go leave
// at once, the call's changes join the log's queue, and when they need a
// sync (Node::ChangesNeedSync) the rest of its messages and its answers
// wait for it. The sync's end is an event of its own; until then the
// member takes no call (the server's loop waits on the sync), but it may
// crash, and a crash restarts it from its log as of its last sync. Once no
// crash is left to spend, a sync ends within the call that needed it: its
// window would only delay the member's outputs and inputs. With
// kPartitions, where messages between reachable members arrive within the
// event that sent them, so do syncs but those a crash meets: while one is
// under way, only syncs' ends and crashes can happen.
//
// Membership change (issue 18): the first configuration's members are
// processes 0..members-1, all voters; `spares` more processes (the ids
// after them) run from the start outside it, as machines an operator may
// add. A script's operator steps (client_script.h) ask a member for a
// change; the member's configuration state (Node::membership_state) is
// written to its disk before anything it sends leaves, so it survives
// crashes and clean restarts and is lost only with the disk; a listed
// member whose disk is lost starts with an empty dir and joins by itself
// (epoch 0, asking the listed members: Node::Start), a spare as a joiner
// that knows only the other processes, as the simulator's do. A RELEASE is checked against the voters of the answering member's
// configuration (or of one or two before it: a round keeps the
// configuration it started under), and two members that adopt different
// configurations under one epoch are a violation of their own.
//
// It does not search (explorer.h) and it does not decide what is safe
// (tests/sim/checker.h does).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/broken.h"
#include "tests/explorer/client_script.h"
#include "tests/explorer/event.h"
#include "tests/explorer/explored_clients.h"
#include "tests/explorer/member_replay.h"
#include "tests/explorer/network.h"

namespace lockerd::explorer {

// How many of each event a path may hold; deliveries and client writes
// are bounded by the scripts instead.
struct Budgets {
  int splits = 0;       // Deliveries whose replies stay in flight (with round trips).
  int drops = 0;        // Messages lost (with FIFO links: a link's queue).
  int crashes = 0;      // Restarts without the member's memory.
  int disk_losses = 0;  // Restarts with an empty dir (memory and disk lost).
  int restarts = 0;     // Clean stops and starts...
  int wall_steps = 0;   // ...of which this many with the wall clock stepped forward.
  int timers = 0;       // Times that time passes.
  int partitions = 0;   // Changes of which members are cut off (kPartitions).
};

enum class NetworkModel {
  kMessages,    // Each message's arrival is a choice.
  kPartitions,  // Which members are cut off is a choice; the rest arrives at once.
};

struct ModelOptions {
  size_t members = 3;  // The first configuration's voters: processes 0..members-1.
  // Processes outside the first configuration (ids members.., up to 7
  // processes in all), for scripts that add them (`add m3`).
  size_t spares = 0;
  size_t keys = 1;
  std::string script = "lock-release";  // client_script.h: a script or a preset's name.
  NetworkModel network = NetworkModel::kMessages;
  bool fifo_links = true;
  // kMessages: a delivery of a message that asks for an answer (prepare,
  // accept, probe, sync request) brings the answer back at once; `splits`
  // says how often a path may leave it in flight instead.
  bool round_trips = true;
  Budgets budgets;
  int64_t step_ms = 0;          // Time may also pass by this much (0: only to timers).
  int64_t wall_step_ms = 3000;  // How far a stepped wall clock jumps forward.
  int64_t horizon_ms = 5000;    // Time never jumps further at once.
  int64_t max_lease_ms = 1000;
  int64_t round_timeout_ms = 100;
  double drift = 0.01;
  int64_t probe_interval_ms = 60'000;
  uint64_t seed = 1;
  // The members exchange their first probes before the search starts, so
  // that it starts from a cluster whose links have been up for a while.
  bool settle_probes = true;
  // Every member runs with appendonly yes: each call's changes are synced
  // before its messages and answers leave, but for those the member may
  // send while it syncs; a crash leaves a log that adds up to the member's
  // state as of its last sync, and the start replays it
  // (server/append_log.h) instead of quarantining.
  bool appendonly = false;
  // Rules every member breaks on purpose (cluster/broken.h), for the
  // self-tests that prove the explorer finds what they allow.
  cluster::BrokenRules broken;
};

class ExploredCluster {
 public:
  struct HeldLease {
    std::string key;
    uint64_t token = 0;
    int64_t deadline_ms = 0;  // On the member's monotonic clock.
  };
  // appendonly yes: where a member's log stands.
  struct LogState {
    // This process's calls as of its last sync: a crash restarts the member
    // from the state they add up to (and the member's digest then).
    CallLog durable;
    uint64_t durable_digest = 0;
    bool queued = false;   // Changes taken since wait in the log's queue.
    bool syncing = false;  // A sync is under way: the member takes no call.
    // What leaves when the sync ends, in the order the member made it.
    std::vector<cluster::Message> messages;
    std::vector<cluster::WriteResult> results;
  };
  struct Member {
    int starts = 0;                           // Processes started so far.
    int64_t mono_origin_ms = 0;               // This process's monotonic clock minus real time.
    int64_t wall_offset_ms = 0;               // The wall clock minus real time (and the epoch).
    std::shared_ptr<const std::string> disk;  // The last clean stop's state file.
    std::shared_ptr<const std::string> aof;   // appendonly: the log a crash left.
    uint64_t disk_digest = 0;
    CallLog log;  // This process's calls.
    // Read from the node after each call, so that a state can be judged
    // without rebuilding its members.
    uint64_t digest = 0;
    std::optional<int64_t> wake_ms;
    int64_t quarantine_until_ms = 0;
    std::vector<HeldLease> held;
    LogState log_state;
    // The configuration adopted and the configuration register, as the
    // member's disk keeps them (through crashes; lost with the disk).
    std::optional<cluster::MembershipState> membership;
    // A spare (never in the member list) that lost its disk: it starts as
    // a joiner that knows no first configuration.
    bool joins = false;
  };
  // Everything a state is; copied to go back to it (the members' nodes are
  // rebuilt from their logs when next needed).
  struct State {
    int64_t now_ms = 0;
    std::vector<Member> members;
    Network network;
    ExploredClients clients;
    Budgets left;
    uint32_t isolated = 0;  // kPartitions: the members cut off, one bit each.
    // The voters of each epoch any member adopted (index: epoch), for the
    // release check.
    std::vector<uint32_t> voters_by_epoch;
  };

  // `scripts` must be valid for `options` (ParseScripts). Starts every
  // member, and settles their first probes if asked.
  ExploredCluster(const ModelOptions& options,
                  std::shared_ptr<const std::vector<ClientScript>> scripts);

  const State& state() const { return state_; }
  void Restore(const State& state) { state_ = state; }

  std::vector<Event> Enabled() const;
  // `event` must be one of Enabled()'s.
  void Apply(const Event& event);
  // What `event` would do, in words (before it is applied).
  std::string Describe(const Event& event) const;
  // The state, without what is left of the budgets (left() says that).
  uint64_t Digest() const;
  const Budgets& left() const { return state_.left; }
  bool ok() const { return state_.clients.checker().ok(); }
  // The clients are done: no later event can change the checker's verdict.
  bool clients_done() const { return state_.clients.Done(); }
  const std::vector<std::string>& violations() const {
    return state_.clients.checker().violations();
  }

  // When set, Apply adds a line for each message delivered within an event
  // and each answer a client gets.
  void set_log(std::vector<std::string>* log) { log_ = log; }

  uint64_t rebuilds() const;
  uint64_t calls_replayed() const;
  uint64_t calls() const { return calls_; }
  // Membership changes answered, on every path applied so far, by outcome
  // (cluster::WriteOutcome's order), and the highest epoch any member
  // adopted: how far the explored paths took the configuration.
  const std::array<uint64_t, 4>& change_answers() const { return change_answers_; }
  uint64_t max_epoch() const { return max_epoch_; }
  // Rebuilt members whose digest differed from the one recorded when the
  // calls were first made: the members are not deterministic (a bug).
  uint64_t replay_mismatches() const { return replay_mismatches_; }

 private:
  cluster::Time TimeOf(size_t member) const;
  cluster::NodeOptions OptionsOf(size_t member, int starts) const;
  // The member's node at `log`; a rebuilt one is checked against `digest`.
  cluster::Node& At(size_t member, const CallLog& log, uint64_t digest);
  // Makes a call on a member's node and adds it to its log (`changed`: the
  // call changed what the member's log holds).
  cluster::Node& Make(size_t member, CallBody call, bool* changed);
  // Makes a call on a member and takes what it produced.
  void Call(size_t member, CallBody call);
  // What a call produced leaves (`changed`: the call changed what the log
  // holds): at once, or around the sync of the member's log.
  void Collect(size_t member, cluster::Node& node, bool changed);
  // appendonly yes: the messages that may leave before the sync do; when
  // the log's queue needs a sync, the rest waits for it (returns true).
  bool HoldForSync(size_t member, cluster::Node& node, std::vector<cluster::Message>* outbox,
                   std::vector<cluster::WriteResult>* results);
  // The member's log has synced everything queued: noted on the node (a
  // call of its log), and its state is what a crash restarts from.
  void Synced(size_t member);
  // The sync under way ends: what waited for it leaves.
  void EndSync(size_t member);
  // Sends a member's messages and gives its answers to the clients.
  void Release(size_t member, const std::vector<cluster::Message>& outbox,
               const std::vector<cluster::WriteResult>& results);
  // Whether a crash may still meet a sync under way. A sync none can meet
  // ends at once: its window would only delay what the member sends and
  // takes, as the network may anyway.
  bool SyncsCanBeMet() const;
  bool Syncing(size_t member) const { return state_.members[member].log_state.syncing; }
  // What a crash leaves of a member's log: its state as of its last sync.
  std::shared_ptr<const std::string> DurableLog(size_t member);
  // Reads what the state keeps of a member (its digest, timers, leases).
  void Observe(size_t member, const cluster::Node& node);
  void Deliver(size_t index, bool round_trip);
  void Receive(Flight flight);
  void TickDue();
  // kPartitions: delivers, oldest first, every message between members
  // that are not cut off, with the timers they make due.
  void Settle();
  bool LinkUp(const cluster::Message& message) const;
  // A process ends: clean (its state file written) or not; messages to it
  // are lost, and its clients' writes have unknown outcomes.
  void Stop(size_t member, bool clean);
  // A new process starts from what the member's disk holds.
  void Start(size_t member, bool wall_stepped, bool unclean);
  // Stops a member and starts a new process for it: clean (its state
  // saved), or without its memory, or (with `lose_disk`) without its dir.
  void Restart(size_t member, bool clean, bool wall_stepped, bool lose_disk);
  std::vector<int64_t> AdvanceTimes() const;
  size_t processes() const { return options_.members + options_.spares; }
  // Of `voters`, how many do not hold `key` with `token` now.
  size_t FreeMembers(const std::string& key, uint64_t token, uint32_t voters) const;
  // The release check's count for an answer from `member` (ExploredClients::FreeMembers).
  ExploredClients::FreeCount FreeFor(size_t member, const std::string& key, uint64_t token) const;
  void Log(const std::string& line) {
    if (log_ != nullptr) log_->push_back(line);
  }

  ModelOptions options_;
  State state_;
  std::vector<LiveMember> live_;  // Cache: a node per member, at any log.
  std::vector<std::string>* log_ = nullptr;
  uint64_t calls_ = 0;
  uint64_t replay_mismatches_ = 0;
  std::array<uint64_t, 4> change_answers_{};
  uint64_t max_epoch_ = 0;
};

}  // namespace lockerd::explorer
