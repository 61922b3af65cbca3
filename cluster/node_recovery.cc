// Node: how a member starts, what a clean stop saves, and recovery without
// stable storage (CLUSTER-SAFETY.md, "Restarts").
#include <algorithm>
#include <iterator>

#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/limits.h"
#include "cluster/node.h"

namespace lockerd::cluster {

const char* StartKindName(StartKind kind) {
  switch (kind) {
    case StartKind::kFirst: return "first start";
    case StartKind::kClean: return "clean restart";
    case StartKind::kCleanAfterReboot: return "clean restart after a reboot";
    case StartKind::kUnclean: return "restart without its state";
  }
  return "?";
}

StartReport Node::Start(const StartFacts& facts, Time now) {
  StartReport report;
  if (facts.membership) {
    // The configuration it adopted (never forgotten, whatever else was
    // lost) and its configuration register.
    membership_state_ = *facts.membership;
    if (membership_state_.adopted.Valid()) UseMembership(membership_state_.adopted);
  } else if (!facts.saved && !facts.new_cluster && membership_.epoch != 0 && !membership_.Alone(options_.self) &&
             !options_.broken.empty_dir_takes_first_configuration &&
             !options_.broken.first_start_votes_at_once) {
    // Nothing in dir: a new member, or one whose disk was lost, perhaps
    // after the configuration changed; the member list's first
    // configuration may then have majorities that no longer know the
    // cluster (members removed since, or whose disks were lost too).
    Join();
  }
  const bool cluster = !membership_.Alone(options_.self);
  // Every promise a log's run may have answered before syncing it is of a
  // round within its reserve: each is kept by promising above the reserve,
  // on every register.
  Ballot reserve_floor;
  if (facts.saved && facts.saved->round_reserve > 0 &&
      !options_.broken.restart_ignores_round_reserve) {
    reserve_floor = Ballot{facts.saved->round_reserve + 1, 0, 0};
  }
  if (facts.saved) {
    // Counters and ballots only ever grow, whatever else is lost.
    acceptor_.RaiseTokenCounter(facts.saved->token_counter);
    table_.RaiseBallotFloor(std::max(facts.saved->ballot_floor, reserve_floor));
    coordinator_.RaiseBallot(std::max(facts.saved->ballot_floor, reserve_floor));
  }
  if (facts.unclean || facts.members_changed) {
    // What it promised and accepted since its state was saved is lost: the
    // saved registers are stale, only their ballots and tokens count.
    if (facts.saved) {
      for (const SavedRegister& saved : facts.saved->registers) {
        acceptor_.RaiseTokenCounter(saved.token);
        table_.RaiseBallotFloor(std::max(saved.promised, saved.accepted));
        coordinator_.RaiseBallot(std::max(saved.promised, saved.accepted));
      }
    }
    // Every lease it may have granted, and every older copy of a state it
    // may have been the witness of, must end before it votes.
    report.kind = StartKind::kUnclean;
    report.quarantine_ms =
        cluster ? StaleStateLifeMs(options_.max_lease_ms, options_.drift, options_.round_timeout_ms)
                : QuarantineMs(options_.max_lease_ms, options_.drift) + options_.round_timeout_ms;
    acceptor_.QuarantineUntil(now.mono_ms + report.quarantine_ms);
    if (cluster) BeginRecovery(now, RecoverySync::Kind::kLostMemory);
    report.recovering = recovery_.recovering();
    return report;
  }
  if (!facts.saved) {
    // An empty dir: a new member, or one whose disk was lost or replaced.
    // In a cluster it votes only once a majority of the others say nothing
    // was ever written (the cluster is new); else it lost its memory.
    if (cluster && !facts.new_cluster && !options_.broken.first_start_votes_at_once) {
      BeginRecovery(now, RecoverySync::Kind::kFirstStart);
      report.checking_new = true;
    }
    return report;
  }
  const NodeState& saved = *facts.saved;
  const std::optional<int64_t> downtime_ms = options_.broken.downtime_from_wall_clock
                                                 ? std::optional<int64_t>(facts.wall_downtime_ms)
                                                 : facts.downtime_ms;
  report.kind = downtime_ms ? StartKind::kClean : StartKind::kCleanAfterReboot;
  int64_t longest_lease_ms = 0;
  for (const SavedRegister& reg : saved.registers) {
    RestoreRegister(reg, now, downtime_ms, reserve_floor);
    if (reg.held) longest_lease_ms = std::max(longest_lease_ms, reg.remaining_ms);
  }
  report.registers_loaded = table_.registers_count();
  report.leases_loaded = table_.held_count();
  // A quarantine it was in goes on for what was left of it. After a reboot
  // nothing is known to have passed: the quarantine is kept whole, and in a
  // cluster the member does not vote while a lease it kept whole may be
  // longer than it should (a copy that outlives the write that superseded
  // it elsewhere would be an older state winning a later round).
  int64_t quarantine_ms = saved.quarantine_left_ms - downtime_ms.value_or(0);
  if (!downtime_ms && cluster) quarantine_ms = std::max(quarantine_ms, longest_lease_ms + 1);
  if (quarantine_ms > 0) {
    report.quarantine_ms = quarantine_ms;
    acceptor_.QuarantineUntil(now.mono_ms + quarantine_ms);
  }
  if (saved.needs_sync && cluster) BeginRecovery(now, RecoverySync::Kind::kLostMemory);
  report.recovering = recovery_.recovering();
  return report;
}

void Node::RestoreRegister(const SavedRegister& saved, Time now, std::optional<int64_t> downtime_ms,
                           Ballot promise_floor) {
  const int64_t passed_ms = std::max<int64_t>(downtime_ms.value_or(0), 0);
  acceptor_.RaiseTokenCounter(saved.token);
  Register& reg = table_.FindOrCreate(saved.key, now.mono_ms);
  table_.SetPromised(reg, std::max({saved.promised, saved.accepted, promise_floor}));
  reg.written_ms = now.mono_ms;
  if (saved.held) {
    const int64_t left_ms = saved.remaining_ms - passed_ms;
    if (left_ms > 0) {
      table_.Hold(reg, saved.accepted, saved.owner, saved.token, now.mono_ms + left_ms);
      return;
    }
    // It ran out while the member was down: a tombstone since then.
    table_.RestoreFree(reg, saved.accepted, now.mono_ms, table_.idle_ms() + left_ms);
    return;
  }
  table_.RestoreFree(reg, saved.accepted, now.mono_ms, saved.remaining_ms - passed_ms);
}

void Node::SaveCounters(NodeState* state, Time now, bool ballot_floor) const {
  state->quarantine_left_ms = std::max<int64_t>(0, acceptor_.quarantine_until_ms() - now.mono_ms);
  state->needs_sync = recovery_.recovering();
  if (recovery_.recovering() && !recovery_.lost_memory()) {
    // Stopped before its first-start check ended: it may have lost its disk.
    state->quarantine_left_ms = std::max(
        state->quarantine_left_ms,
        StaleStateLifeMs(options_.max_lease_ms, options_.drift, options_.round_timeout_ms));
  }
  state->token_counter = acceptor_.token_counter();
  if (ballot_floor) state->ballot_floor = HighestBallot();
  // Every round this member promised it saw first (Handle raises the
  // coordinator's round to it), and every round it proposed at came from
  // that counter: the reserve is above all of them, with room.
  const uint64_t round = coordinator_.last_ballot().round;
  state->round_reserve = round - round % kRoundReserveStep + 2 * kRoundReserveStep;
}

SavedRegister Node::SaveRegister(size_t slot, Time now) const {
  const Register* reg = table_.RegisterAt(slot);
  SavedRegister saved;
  saved.key = table_.KeyAt(slot)->str();
  saved.promised = reg->promised;
  saved.accepted = reg->accepted;
  if (reg->HeldAt(now.mono_ms)) {
    saved.held = true;
    saved.owner = reg->owner.str();
    saved.token = reg->token;
    saved.remaining_ms = reg->RemainingMs(now.mono_ms);
  } else {
    // A lease past its deadline not yet expired by the table becomes a
    // tombstone the instant after its deadline.
    const int64_t keep_until_ms = reg->held ? reg->deadline_ms + 1 + table_.idle_ms() : reg->wake_ms;
    saved.token = reg->held ? reg->token : 0;
    saved.remaining_ms = std::max<int64_t>(0, keep_until_ms - now.mono_ms);
  }
  return saved;
}

NodeState Node::Save(Time now) const { return SaveSlots(0, table_.slot_limit(), now); }

NodeState Node::SaveSlots(size_t begin, size_t end, Time now) const {
  NodeState state;
  // The floor from these slots' promises only (a walk of every slot per
  // part would make a snapshot in parts quadratic): with the table's floor
  // (erased registers) and the coordinator's last ballot it covers what
  // the part holds, and a restart takes the highest floor of all records.
  SaveCounters(&state, now, /*ballot_floor=*/false);
  state.ballot_floor = std::max(table_.ballot_floor(), coordinator_.last_ballot());
  for (size_t slot = begin; slot < std::min(end, table_.slot_limit()); ++slot) {
    const Register* reg = table_.RegisterAt(slot);
    if (reg == nullptr) continue;
    state.ballot_floor = std::max(state.ballot_floor, reg->promised);
    if (options_.broken.save_held_leases_only && !reg->HeldAt(now.mono_ms)) continue;
    state.registers.push_back(SaveRegister(slot, now));
  }
  return state;
}

std::optional<NodeState> Node::TakeChanges(Time now) {
  NodeState changes;
  SaveCounters(&changes, now, /*ballot_floor=*/false);
  // The floor without a walk of every register: the ballots used, and the
  // promises of the registers that changed (the others' are logged).
  changes.ballot_floor = std::max(table_.ballot_floor(), coordinator_.last_ballot());
  // Erased registers first: a slot erased and then used again for the same
  // key in one turn is recorded as it is now, after them.
  for (LeaseTable::Erased& erased : table_.TakeErased()) {
    SavedRegister gone;
    gone.key = std::move(erased.key);
    gone.promised = erased.promised;
    gone.accepted = erased.accepted;
    changes.registers.push_back(std::move(gone));  // Free, nothing left to keep.
  }
  for (const uint32_t slot : table_.TakeChangedSlots()) {
    if (table_.RegisterAt(slot) == nullptr) continue;
    changes.registers.push_back(SaveRegister(slot, now));
    changes.ballot_floor = std::max(changes.ballot_floor, changes.registers.back().promised);
  }
  changes.ballot_floor = std::max(changes.ballot_floor, journaled_.ballot_floor);
  changes.round_reserve = std::max(changes.round_reserve, journaled_.round_reserve);
  const Journaled journaled{changes.token_counter, changes.ballot_floor,
                            acceptor_.quarantine_until_ms(), changes.needs_sync,
                            changes.round_reserve};
  // Promises within the synced reserve, and the ballots and erasures that
  // come with them, may wait for a later sync (ChangesNeedSync).
  if (table_.TakeStatesChanged() || journaled.token_counter != journaled_.token_counter ||
      journaled.quarantine_until_ms != journaled_.quarantine_until_ms ||
      journaled.needs_sync != journaled_.needs_sync || journaled.round_reserve != durable_round_reserve_) {
    changes_need_sync_ = true;
  }
  if (changes.registers.empty() && journaled == journaled_) return std::nullopt;
  journaled_ = journaled;
  return changes;
}

bool Node::MaySendBeforeSync(const Message& message) const {
  if (message.from != options_.self || message.to == options_.self) return false;
  if (std::holds_alternative<Prepare>(message.body)) return true;
  if (const auto* accept = std::get_if<Accept>(&message.body)) {
    return accept->ballot.member == options_.self && accept->ballot.round <= durable_round_reserve_;
  }
  if (const auto* promise = std::get_if<Promise>(&message.body)) {
    // A promise of the Prepare's ballot, while no register's accepted state
    // has changed since the last sync: what it reports is on disk. (A
    // member that agreed on a state it then forgot would make a one-key
    // read that found a majority agreeing, and wrote nothing back, answer
    // a state a later read does not see. A peek's answer that happens to
    // carry its ballot as `highest` reports only what is on disk too.)
    if (promise->vote == Vote::kYes && promise->highest == promise->ballot &&
        promise->ballot.round <= durable_round_reserve_ && !changes_need_sync_ &&
        !table_.states_changed()) {
      return true;
    }
  }
  if (options_.broken.answers_before_sync) {
    return std::holds_alternative<Promise>(message.body) || std::holds_alternative<Accepted>(message.body);
  }
  return false;
}

void Node::TakeSendableBeforeSync(std::vector<Message>* outbox, std::vector<Message>* early) const {
  const auto later = std::stable_partition(outbox->begin(), outbox->end(),
                                           [this](const Message& message) { return MaySendBeforeSync(message); });
  early->insert(early->end(), std::make_move_iterator(outbox->begin()), std::make_move_iterator(later));
  outbox->erase(outbox->begin(), later);
}

void Node::BeginRecovery(Time now, RecoverySync::Kind kind) {
  recovery_.Begin(now.mono_ms, kind);
  acceptor_.SetSynced(!recovery_.recovering());
}

void Node::LoseMemory(Time now) {
  acceptor_.QuarantineUntil(std::max(
      acceptor_.quarantine_until_ms(),
      now.mono_ms + StaleStateLifeMs(options_.max_lease_ms, options_.drift, options_.round_timeout_ms)));
  BeginRecovery(now, RecoverySync::Kind::kLostMemory);
}

void Node::SendSyncRequests(Time now) {
  recovery_.RequestsSent(now.mono_ms);
  ForEachMember(membership_.voters & ~(uint32_t{1} << options_.self), [&](MemberId member) {
    pending_.push_back({options_.self, member, SyncRequest{recovery_.nonce()}});
  });
}

void Node::AnswerSync(MemberId from, const SyncRequest& request) {
  SyncReply reply;
  reply.nonce = request.nonce;
  if (recovery_.lost_memory() && !options_.broken.sync_answers_while_recovering) {
    reply.recovering = true;  // Its memory is as empty as the asker's.
  } else {
    reply.token_counter = acceptor_.token_counter();
    reply.highest = HighestBallot();
    // Its own coordinator's ballots do not count: they were only ever
    // promised by members that have registers or floors of their own.
    // Only under a configuration this member knows is settled: while a
    // change is not, a just-added voter is empty because it is new, not
    // because nothing was written (the old voters' keys need not be on the
    // new majorities yet), and a majority of the new configuration's others
    // may be such members.
    reply.pristine = reply.token_counter == 0 && table_.registers_count() == 0 &&
                     table_.ballot_floor().round == 0 && membership_state_.value.settled &&
                     membership_state_.value.membership.epoch == membership_.epoch;
    reply.undecided = recovery_.recovering() && !recovery_.lost_memory();  // A first-start check.
    const uint64_t vouched = vouched_runs_[from];
    reply.vouched = vouched != 0 && vouched == RecoverySync::RunOf(request.nonce);
    reply.run = recovery_.run();
    reply.config_promised = membership_state_.promised;
    reply.config_accepted = membership_state_.accepted;
    reply.config_value = membership_state_.value;
  }
  pending_.push_back({options_.self, from, reply});
}

void Node::OnSyncReply(MemberId from, const SyncReply& reply, Time now) {
  if (!recovery_.OnReply(from, reply)) return;
  acceptor_.RaiseTokenCounter(reply.token_counter);
  table_.RaiseBallotFloor(reply.highest);
  coordinator_.RaiseBallot(reply.highest);
  // The configuration register as a majority of the others has it: what
  // this member may have promised or accepted there and lost with its dir
  // (a value chosen with its vote is on the others of that majority, which
  // a majority of the others meets; CLUSTER-SAFETY.md, "Membership change").
  // Until its recovery ends it votes in no round of the register.
  MembershipState& state = membership_state_;
  const MembershipState before = state;
  if (reply.config_accepted > state.accepted && reply.config_value.membership.Valid()) {
    state.accepted = reply.config_accepted;
    state.value = reply.config_value;
  }
  state.promised = std::max({state.promised, reply.config_promised, state.accepted});
  if (!(state == before)) membership_state_changed_ = true;
  if (!recovery_.Complete()) return;
  // A member that joins counted only members that know no configuration
  // either: it decides once every listed member has answered so.
  if (membership_.epoch == 0 && !recovery_.EveryOtherAnswered()) return;
  if (!recovery_.lost_memory()) {
    if (recovery_.history_seen()) {
      // An empty dir in a cluster with history: this member lost its disk.
      ++first_starts_with_history_;
      return LoseMemory(now);
    }
    vouched_runs_ = recovery_.UnvotedRuns();
  }
  // One that may not take the list's first configuration goes on asking
  // until a member tells it one.
  if (membership_.epoch == 0 && !TakeFirstConfiguration()) return;
  // A majority of the others of its configuration answered at its epoch or
  // below: one of them adopted any configuration chosen after it.
  Joined(false);
  recovery_.Finish();
  acceptor_.SetSynced(true);
}

void Node::Joined(bool joined) {
  if (membership_state_.joined == joined) return;
  membership_state_.joined = joined;
  membership_state_changed_ = true;
}

void Node::Join() {
  // Epoch 0: it coordinates nothing, and asks every listed member. A
  // member that knows a configuration answers with its epoch, and this
  // member asks it for the configuration (CheckEpoch) before it counts the
  // answer: it then checks, or recovers, under that configuration's voters.
  Membership joining;
  joining.epoch = 0;
  joining.voters = first_membership_.members() & ~(uint32_t{1} << options_.self);
  joining.learners = 0;
  UseMembership(joining);
  membership_state_.adopted = joining;
  membership_state_.value = ConfigValue{joining, 0, true};
  membership_state_.joined = true;
  membership_state_changed_ = true;
}

bool Node::TakeFirstConfiguration() {
  // Every listed member answered and none knows a configuration: the
  // cluster is new (or every dir was lost, which no rule can tell apart).
  // A member never listed (started to join) waits to be told, as does one
  // whose operator said the cluster exists.
  if (!first_membership_.Valid() ||
      options_.first_configuration == NodeOptions::FirstConfiguration::kNever) {
    return false;
  }
  UseMembership(first_membership_);
  NoteFirstConfiguration();
  NoteMembershipState();
  return true;
}

void Node::NoteFirstConfiguration() {
  if (!(membership_ == first_membership_) || membership_state_.accepted != Ballot{}) return;
  const ConfigValue first{first_membership_, 0, true};
  if (membership_state_.value == first) return;
  membership_state_.value = first;
  membership_state_changed_ = true;
}

void Node::FallBackToWallClockFloors(Time now) {
  // A majority lost its memory at once: no majority can say what was
  // promised before. Every lease of before has ended (the quarantine is
  // over); ballots and tokens start above the wall clock's reading in
  // microseconds, above everything used before provided wall clocks are
  // right to within the quarantine and fewer than a million ballots or
  // tokens a second were taken (fencing.h).
  const uint64_t token_floor = TokenFloor(FloorWallMs(now.wall_ms, options_.broken));
  const Ballot floor{token_floor, 0, 0};
  table_.RaiseBallotFloor(floor);
  coordinator_.RaiseBallot(floor);
  acceptor_.RaiseTokenCounter(token_floor);
  ++recovery_fallbacks_;
  if (membership_.epoch == 0) TakeFirstConfiguration();
  // Every other member of its configuration answered (Tick), none at a
  // newer epoch.
  if (membership_.epoch != 0) Joined(false);
  recovery_.Finish();
  acceptor_.SetSynced(true);
}

}  // namespace lockerd::cluster
