// One member of the lock service as a pure state machine: its registers (the
// lease table), its acceptor and its coordinator. The server feeds it
// requests, peer messages and the time, and takes out messages for peers,
// results for clients and the keys whose leases ended.
//
//   node.Submit(request, now);    // a client's write
//   node.Receive(message, now);   // from a peer; may be stale or duplicated
//   node.Tick(now);               // expiry, timeouts, retries
//   node.TakeOutbox(&messages);   // for the peer transport
//   node.TakeResults(&results);   // for the waiting clients
//
// Messages a member sends to itself are delivered at once, without encoding,
// so a member alone answers within the call that submitted the write.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/acceptor.h"
#include "cluster/broken.h"
#include "cluster/coordinator.h"
#include "cluster/lease_table.h"
#include "cluster/membership.h"
#include "cluster/membership_change.h"
#include "cluster/message_clocks.h"
#include "cluster/messages.h"
#include "cluster/recovery_sync.h"
#include "cluster/restart.h"
#include "cluster/state_digest.h"
#include "cluster/txn.h"
#include "cluster/txn_coordinator.h"
#include "cluster/write_request.h"

namespace lockerd::cluster {

struct NodeOptions {
  // The configuration the member starts under: voters, learners, epoch
  // (membership.h). A member list of N makes Membership::Initial(N).
  Membership membership;
  MemberId self = 0;
  int64_t max_lease_ms = 60'000;
  double drift = 0.01;
  int64_t round_timeout_ms = 500;
  uint64_t seed = 1;  // Backoff jitter and the key of the key hash.
  // This run of the member, for its peers' bounds on its clock
  // (message_clocks.h): random at each start, never 0.
  uint64_t incarnation = 1;
  // A peer heard from less recently than this is probed (message_clocks.h).
  int64_t probe_interval_ms = 1000;
  // Active expiry handles at most this many registers per Tick, so that a
  // million leases ending at once do not stall the server's loop.
  size_t expire_budget = 10'000;
  // When a member that starts with an empty dir in a cluster (it joins,
  // epoch 0) may take the member list's first configuration, when no
  // member tells it a newer one (`initial-cluster-state`):
  enum class FirstConfiguration : uint8_t {
    // Once every listed member has answered that it knows none: the
    // cluster is new (or every dir was lost). A listed member that never
    // answers (down, misconfigured) keeps the others waiting.
    kWhenEveryMemberKnowsNone,
    // The operator says the cluster is new: also once a majority of the
    // listed members know none and the whole-cluster rule applies
    // (quarantine, wall-clock floors), so that a new cluster starts
    // with a member missing; nor does a member that joined wait for every
    // member of a configuration it was told. Wrong for a cluster whose
    // configuration changed: members removed since and wiped would be such
    // a majority (the server warns when the setting outlives the start).
    kAlsoWithAMemberMissing,
    // The operator says the cluster exists: never; wait to be told.
    kNever,
  };
  FirstConfiguration first_configuration = FirstConfiguration::kWhenEveryMemberKnowsNone;
  // Rules a test breaks on purpose, to prove its checker notices (broken.h);
  // passed down to the acceptor, the coordinators and recovery. Only tests
  // set them: lockerd has no setting that reaches this field.
  BrokenRules broken;
};

class Node {
 public:
  explicit Node(NodeOptions options);

  void Submit(WriteRequest request, Time now);
  // A transaction over several keys (a script); its result comes out of
  // TakeResults with the request's id.
  void SubmitTxn(TxnRequest request, Time now);
  void Receive(const Message& message, Time now);
  void Tick(Time now);
  // The server's peer links say whether `member` is reachable (see
  // Coordinator::SetReachable).
  // A link that comes up is probed at once (message_clocks.h), so that its
  // member's first commits are of known age.
  void SetPeerReachable(MemberId member, bool reachable) {
    coordinator_.SetReachable(member, reachable);
    if (reachable) clocks_.ProbeSoon(member);
  }
  // When Tick next has work: the earliest lease deadline, tombstone end,
  // round timeout or retry. Equal to or before now when work is pending.
  std::optional<int64_t> NextWakeMs() const;

  void TakeOutbox(std::vector<Message>* out);
  // Replaces `out` with every result ready since the last call: the
  // single-key rounds', then the transactions', then a member alone's (see
  // node.cc for why the order is fixed).
  void TakeResults(std::vector<WriteResult>* out);
  // Keys someone waits on (a blocked LOCK, WAIT): when a watched key's lease
  // ends (release, delete, expiry), TakeFreedKeys names it. This is all the
  // server changes in the registers directly; it reads them through table().
  void WatchKey(std::string_view key) { table_.Watch(key); }
  void UnwatchKey(std::string_view key) { table_.Unwatch(key); }
  std::vector<std::string> TakeFreedKeys() { return table_.TakeFreedKeys(); }

  // How the member starts, from what it found (CLUSTER-SAFETY.md,
  // "Restarts"; node_restart.cc): a clean stop's registers are restored
  // with the downtime passed (kept whole when it is unknown); a member that
  // lost its memory stays in quarantine, and in a cluster recovers its
  // ballots and counters from its peers first. Call once, before anything
  // else.
  StartReport Start(const StartFacts& facts, Time now);
  // Starts as after a crash (memory lost; the configuration file kept);
  // for tests.
  void StartQuarantine(Time now) {
    StartFacts facts;
    facts.unclean = true;
    facts.membership = membership_state_;
    Start(facts, now);
  }
  // What a clean stop saves: every register, free ones too.
  NodeState Save(Time now) const;
  // The registers in slots [begin, end) and the counters, as Save has them:
  // a snapshot taken a part at a time (slots never move, so a register
  // present throughout is met once; one created, changed or erased
  // meanwhile is in the changes taken since the first part).
  NodeState SaveSlots(size_t begin, size_t end, Time now) const;
  size_t slot_limit() const { return table_.slot_limit(); }
  // For the append-only log (the server's append_log.h): from now on,
  // note every register whose promise or accepted state changes.
  void TrackChanges() { table_.TrackChanges(true); }
  // What changed since the last call (or since TrackChanges): those
  // registers' whole states, with the counter, ballot floor, quarantine
  // and recovery as Save has them; nothing when none of it changed. The
  // log must hold it on disk before anything this member sends or answers
  // next leaves it.
  std::optional<NodeState> TakeChanges(Time now);
  // The log holds every change taken so far (the server's sync succeeded).
  void NoteDurable() {
    durable_round_reserve_ = journaled_.round_reserve;
    changes_need_sync_ = false;
  }
  // Whether the changes taken since the last NoteDurable must be synced
  // before this member's answers and the rest of its messages leave: any
  // but promises of rounds within the synced round reserve, and the
  // ballots and tombstone ends that come with them (a restart from the log
  // raises every promise and ballot above the reserve, and an erased
  // register's last synced record is free). Those may wait in the log's
  // queue for the next sync.
  bool ChangesNeedSync() const { return changes_need_sync_; }
  // With the log: whether a message from the outbox may leave while the
  // changes of the turn that made it are still being synced, so that the
  // members' syncs overlap (CLUSTER-SAFETY.md, "Syncs that overlap"). This
  // member's own proposals may: a Prepare (it carries no state), and an
  // Accept whose ballot's round is within the synced round reserve (after
  // a crash this member proposes only above the reserve, so no ballot ever
  // carries two values). So may a promise of a round within the reserve (a
  // restart from the log raises every promise above it, so a promise a
  // crash forgot is still kept), while no register's accepted state has
  // changed since the last sync (what it reports is on disk: a read
  // concludes from a majority that agrees). Everything else waits for the
  // sync: accepts (the votes that choose a value), peeks' answers (reads),
  // Learns, probes, recovery, and every reply to a client.
  bool MaySendBeforeSync(const Message& message) const;
  // Moves the messages of `outbox` that may leave before the sync to the
  // end of `early`; the rest stay in `outbox`, each group in its order.
  void TakeSendableBeforeSync(std::vector<Message>* outbox, std::vector<Message>* early) const;

  // The configuration this member has adopted: the newest it has heard of
  // (from a Configuration message). Its own rounds run under it; it votes
  // in no round of an older one.
  const Membership& membership() const { return membership_; }
  // Adopts `membership` if it is newer than this member's and well formed
  // (true then). Rounds in flight keep the configuration they started
  // under; the next attempts use this one.
  bool AdoptMembership(const Membership& membership, Time now);
  // Messages of an older epoch this member refused to vote on.
  uint64_t stale_epoch_refusals() const { return stale_epoch_refusals_; }

  // Changes the configuration (node_membership.cc; CLUSTER-SAFETY.md,
  // "Membership change"): chooses the new configuration among the voters of
  // this member's, installs it, has the old voters write every key again
  // under it and the new voters raise their floors, then records it as
  // settled. Settles a change left unsettled first. The result comes out of
  // TakeResults with the request's id (kDone; kRefused with why; kNoQuorum
  // when it could not finish in time, with how far it got). One change at a
  // time per member.
  void ChangeMembership(const MembershipRequest& request, Time now);
  bool changing_membership() const { return change_.has_value(); }
  // The configuration adopted and the configuration register: what must be
  // kept durably (restart.h). Changed since the last call: true, and the
  // server must write it before this member's next messages leave.
  const MembershipState& membership_state() const { return membership_state_; }
  bool TakeMembershipStateChanged() {
    const bool changed = membership_state_changed_;
    membership_state_changed_ = false;
    return changed;
  }

  bool recovering() const { return recovery_.recovering(); }
  bool Quarantined(Time now) const { return acceptor_.Quarantined(now.mono_ms); }
  int64_t quarantine_until_ms() const { return acceptor_.quarantine_until_ms(); }

  // The registers, read-only: they change through Submit, Receive and Tick.
  const LeaseTable& table() const { return table_; }
  const Acceptor& acceptor() const { return acceptor_; }
  const Coordinator& coordinator() const { return coordinator_; }
  const TxnCoordinator& txn_coordinator() const { return txn_; }
  const NodeOptions& options() const { return options_; }
  uint64_t malformed_messages() const { return malformed_messages_; }
  // Commits (Accept, Learn) not applied because their age was unknown or
  // above L, and other messages whose age could not be bounded.
  uint64_t stale_commits() const { return stale_commits_; }
  const MessageClocks& clocks() const { return clocks_; }
  const RecoverySync& recovery() const { return recovery_; }
  // Recoveries that fell back to wall-clock floors (a majority had lost
  // its memory at once).
  uint64_t recovery_fallbacks() const { return recovery_fallbacks_; }
  // First starts (an empty dir) that found the cluster has history: the
  // member had lost its disk, and recovered as after a crash.
  uint64_t first_starts_with_history() const { return first_starts_with_history_; }
  // First starts that could not tell (no majority of the others answered
  // in time): started as after a crash.
  uint64_t first_starts_undecided() const { return first_starts_undecided_; }

  // Adds every field that can change what this member does later (its
  // registers, counters, rounds, clocks' bounds and recovery; not its
  // statistics) to `digest`, with clock readings as they are. For tools
  // that compare states (tests/explorer); reads only (node_digest.cc).
  void Digest(StateDigest* digest) const;

 private:
  // Delivers messages addressed to this member until none are left; the
  // rest stay in the outbox for the transport.
  void DeliverLocal(Time now);
  void Handle(const Message& message, Time now);
  // A member alone: the same decision as a round's, without the messages.
  void SubmitAlone(const WriteRequest& request, Time now);
  void SubmitTxnAlone(const TxnRequest& request, Time now);
  // Recovery without stable storage (recovery_sync.h): the requests, the
  // answers to others' requests, and what an answer teaches.
  void BeginRecovery(Time now, RecoverySync::Kind kind);
  // The member lost its memory (a crash, or a first start that found the
  // cluster has history): quarantine S from now, and recovery.
  void LoseMemory(Time now);
  void SendSyncRequests(Time now);
  void AnswerSync(MemberId from, const SyncRequest& request);
  void OnSyncReply(MemberId from, const SyncReply& reply, Time now);
  // When recovery is hopeless (a majority lost its memory) at the end of
  // the quarantine: the whole-cluster rule, wall-clock floors.
  void FallBackToWallClockFloors(Time now);
  void ProbeQuietPeers(Time now);
  // Judges a message's epoch against this member's configuration (true:
  // handle it). A Prepare or Accept of an older epoch is refused with
  // kStaleEpoch after a Configuration for its sender; a newer epoch makes
  // this member ask its sender for the configuration, once per epoch.
  bool CheckEpoch(const Message& message, Time now);
  // The configuration register's acceptor, the change this member
  // coordinates, and the catch-up it runs for another's change
  // (node_membership.cc).
  void OnConfigPrepare(MemberId from, const ConfigPrepare& prepare);
  void OnConfigAccept(MemberId from, const ConfigAccept& accept);
  void OnConfigPromise(MemberId from, const ConfigPromise& promise, Time now);
  void OnConfigAccepted(MemberId from, const ConfigAccepted& accepted, Time now);
  void OnCatchUp(MemberId from, const CatchUp& request, uint64_t epoch, Time now);
  void OnCaughtUp(MemberId from, const CaughtUp& reply, Time now);
  void OnRaiseFloors(MemberId from, const RaiseFloors& request, uint64_t epoch);
  void OnFloorsRaised(MemberId from, const FloorsRaised& reply, Time now);
  void StartConfigRound(Time now);
  void DecideConfig(Time now);
  void ConfigChosen(Time now);
  void StartSettle(Time now);
  void SendSettleMessages(Time now);
  void FinishChange(WriteOutcome outcome, std::string detail);
  void RetryConfigRound(Time now, const std::string& why);
  void TickMembership(Time now);
  void PumpCatchUp(Time now);
  // Takes the coordinator's results, keeping the catch-up's own.
  void CollectResults(Time now);
  void NoteMembershipState();
  // Makes `membership` this member's: its rounds', tombstones', recovery's.
  void UseMembership(const Membership& membership);
  // An empty dir in a cluster (node_recovery.cc): epoch 0, the listed
  // members to ask; and what ends it when no member knows a configuration.
  void Join();
  // False when it may not (a member never listed; `kNever`).
  bool TakeFirstConfiguration();
  void Joined(bool joined);  // MembershipState::joined, noted for the disk.
  // Adopted the first configuration with a register that never accepted a
  // value: the register's value is that configuration, settled (as a
  // member started from the list has it).
  void NoteFirstConfiguration();
  // Whether a commit (Accept, Learn) from a peer is young enough to apply:
  // its age bounded, within L.
  bool FreshEnough(const Message& message, std::optional<int64_t> age_ms);
  // Its promise at least `promise_floor` (a log's promise reserve).
  void RestoreRegister(const SavedRegister& saved, Time now, std::optional<int64_t> downtime_ms,
                       Ballot promise_floor);
  // False (and counted) for a held lease from a peer whose ttl is out of
  // 1..max-lease-ms or whose token is 0.
  bool LeaseSane(bool held, int64_t ttl_ms, uint64_t token);
  // The highest ballot this member has promised, accepted or used.
  Ballot HighestBallot() const;
  // One register as Save and TakeChanges record it.
  SavedRegister SaveRegister(size_t slot, Time now) const;
  // The fields of NodeState that are not registers, as Save has them
  // (the ballot floor, a walk of every register, only if asked).
  void SaveCounters(NodeState* state, Time now, bool ballot_floor = true) const;

  NodeOptions options_;
  // The member list's first configuration (options_.membership when its
  // epoch is not 0; else none, voters 0: a member never in the list).
  Membership first_membership_;
  Membership membership_;
  MembershipState membership_state_;
  bool membership_state_changed_ = false;
  // The change this member coordinates.
  struct ChangeRound {
    MembershipRequest request;
    bool applied = false;  // The request's configuration was chosen.
    enum class Phase : uint8_t { kPrepare, kAccept, kCatchUp, kFloors, kBackoff } phase = Phase::kPrepare;
    uint64_t round_id = 0;
    uint64_t epoch = 0;  // The configuration this round runs under.
    Ballot ballot;
    QuorumTally tally;
    bool found_set = false;
    Ballot found_ballot;
    ConfigValue found;
    ConfigValue proposing;
    bool proposing_own = false;  // `proposing` is the request's change.
    // The configuration being settled, and the epoch whose settling is done
    // (its settled value is the next to write).
    ConfigValue settling;
    uint64_t settled_epoch = 0;
    uint64_t nonce = 0;
    uint32_t caught_up = 0;   // Old voters that caught up (one bit each).
    uint32_t recovering = 0;  // Old voters that lost their memory.
    uint64_t counter_max = 0;
    Ballot highest_max;
    uint32_t floors_raised = 0;  // New voters that raised their floors.
    int attempt = 0;
    int64_t resend_at_ms = 0;
    int64_t deadline_ms = 0;
  };
  std::optional<ChangeRound> change_;
  uint64_t next_config_round_id_ = 1;
  uint64_t change_nonces_ = 0;
  // The catch-up this member runs for a change (the latest asked).
  struct CatchUpRun {
    uint64_t epoch = 0;  // Adopted when it began.
    std::vector<std::pair<MemberId, uint64_t>> askers;  // Settlers and their nonces.
    uint64_t first_id = 0;  // Of its writes' ids (WriteRequest::request_id).
    std::vector<std::string> keys;  // Still to write.
    std::unordered_map<uint64_t, std::string> writing;  // By request id.
    size_t in_flight = 0;
    uint64_t failures = 0;
    bool done = false;
  };
  std::optional<CatchUpRun> catch_up_;
  uint64_t next_catch_up_id_ = 0;
  std::vector<WriteResult> coordinator_results_;  // Taken early (CollectResults).
  // The highest epoch this member has asked a peer about.
  uint64_t asked_epoch_ = 0;
  int64_t asked_at_ms_ = 0;
  uint64_t stale_epoch_refusals_ = 0;
  LeaseTable table_;
  Acceptor acceptor_;
  Coordinator coordinator_;
  TxnCoordinator txn_;
  std::vector<Message> pending_;  // Produced, not yet routed.
  std::vector<Message> local_batch_;  // Being delivered to this member.
  std::vector<WriteResult> alone_results_;  // From SubmitAlone.
  std::vector<Message> outbox_;   // For other members.
  uint64_t malformed_messages_ = 0;
  uint64_t stale_commits_ = 0;
  uint64_t recovery_fallbacks_ = 0;
  uint64_t first_starts_with_history_ = 0;
  uint64_t first_starts_undecided_ = 0;
  int64_t last_tick_ms_ = INT64_MIN;  // When Tick last ran.
  MessageClocks clocks_;
  RecoverySync recovery_;
  // Once this member's first start found the cluster new: the runs of the
  // members whose answers showed no vote then (0: none). While such a run
  // checks in its turn, this member vouches that it never voted
  // (SyncReply::vouched), whatever this member wrote since.
  std::array<uint64_t, kMembersMax> vouched_runs_{};
  // What the last TakeChanges reported besides registers.
  struct Journaled {
    uint64_t token_counter = 0;
    Ballot ballot_floor;
    int64_t quarantine_until_ms = 0;
    bool needs_sync = false;
    uint64_t round_reserve = 0;
    bool operator==(const Journaled&) const = default;
  };
  Journaled journaled_;
  // The round reserve as of the last NoteDurable.
  uint64_t durable_round_reserve_ = 0;
  bool changes_need_sync_ = false;
};

}  // namespace lockerd::cluster
