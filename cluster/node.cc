#include "cluster/node.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

#include "base/check.h"
#include "cluster/decision.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {
namespace {

// A free register of a member alone need not be kept: no other member can
// hold an older state of it. In a cluster it is kept as a tombstone until
// every copy of an older state has ended everywhere (StaleStateLifeMs).
int64_t TombstoneMs(const NodeOptions& options, const Membership& membership) {
  // Only a member that was always alone: once the configuration has changed,
  // a member removed earlier may hold an older state, and be added back.
  return membership.Alone(options.self) && membership.epoch <= 1
             ? 0
             : StaleStateLifeMs(options.max_lease_ms, options.drift, options.round_timeout_ms);
}

// A member that lost its memory asks for its peers' ballots once every round
// that may have counted its lost votes has ended: a round's commits are sent
// within its timeout and applied within L.
int64_t RecoveryDelayMs(const NodeOptions& options) {
  const int64_t span_ms = options.round_timeout_ms + MessageAgeMaxMs(options.round_timeout_ms);
  return static_cast<int64_t>(std::ceil(static_cast<double>(span_ms) * (1.0 + options.drift))) +
         kClockGranularityMs;
}

CoordinatorOptions CoordinatorOptionsOf(const NodeOptions& options) {
  CoordinatorOptions result;
  result.membership = options.membership;
  result.self = options.self;
  result.drift = options.drift;
  result.max_lease_ms = options.max_lease_ms;
  result.round_timeout_ms = options.round_timeout_ms;
  result.seed = options.seed;
  result.broken = options.broken;
  return result;
}

}  // namespace

Node::Node(NodeOptions options)
    : options_(options),
      first_membership_(options.membership.epoch != 0 ? options.membership : Membership{0, 0, 0}),
      membership_(options.membership),
      table_(TombstoneMs(options, options.membership), HashKeyFromSeed(options.seed)),
      acceptor_(&table_, options.broken),
      coordinator_(CoordinatorOptionsOf(options)),
      txn_(CoordinatorOptionsOf(options), &coordinator_),
      clocks_(options.self, options.incarnation, options.drift, options.probe_interval_ms),
      recovery_(options.membership.voters, options.self, options.incarnation, RecoveryDelayMs(options),
                options.round_timeout_ms, options.broken) {
  membership_state_.adopted = options.membership;
  membership_state_.value = ConfigValue{options.membership, 0, true};
  // This member's view is a hint only: the peek reads a majority.
  coordinator_.SetRefusalHint([this](const WriteRequest& request, Time now) {
    const Register* reg = table_.FindHeld(request.key, now.mono_ms);
    return reg != nullptr && (reg->owner != request.owner || request.only_if_free);
  });
  coordinator_.SetLocalView([this](const std::string& key, Time now, LocalRegister* out) {
    const Register* reg = table_.Find(key);
    if (reg == nullptr) return false;
    out->promised = reg->promised;
    out->accepted = reg->accepted;
    out->written_ms = reg->written_ms;
    out->lease = {};
    if (reg->HeldAt(now.mono_ms)) {
      out->lease = {true, reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms)};
    }
    return true;
  });
  coordinator_.SetLocalPromise([this](const std::string& key, Ballot ballot, Time now) {
    table_.SetPromised(table_.FindOrCreate(key, now.mono_ms), ballot);
  });
}

namespace {
constexpr const char* kJoiningDetail =
    "this member has not learned the cluster's configuration yet (it is joining)";
// The answer a vote request of an older configuration gets (kStaleEpoch),
// or nothing for a message that asks for no vote.
std::optional<Message::Body> StaleEpochRefusal(const Message::Body& body) {
  if (const auto* prepare = std::get_if<Prepare>(&body)) {
    Promise refusal;
    refusal.round_id = prepare->round_id;
    refusal.ballot = prepare->ballot;
    refusal.vote = Vote::kStaleEpoch;
    return refusal;
  }
  if (const auto* accept = std::get_if<Accept>(&body)) {
    return Accepted{accept->round_id, accept->ballot, Vote::kStaleEpoch, {}, 0};
  }
  if (const auto* prepare = std::get_if<ConfigPrepare>(&body)) {
    ConfigPromise refusal;
    refusal.round_id = prepare->round_id;
    refusal.ballot = prepare->ballot;
    refusal.vote = Vote::kStaleEpoch;
    return refusal;
  }
  if (const auto* accept = std::get_if<ConfigAccept>(&body)) {
    return ConfigAccepted{accept->round_id, accept->ballot, Vote::kStaleEpoch, {}};
  }
  return std::nullopt;
}

}  // namespace

void Node::Submit(WriteRequest request, Time now) {
  if (membership_.epoch == 0) {
    // Joining: it knows no configuration, so no majority to ask.
    if (request.request_id != 0) {
      alone_results_.push_back({request.request_id, WriteOutcome::kTryAgain, 0, 0, kJoiningDetail});
    }
    return;
  }
  if (membership_.Alone(options_.self)) return SubmitAlone(request, now);
  coordinator_.Submit(std::move(request), now, &pending_);
  DeliverLocal(now);
  CollectResults(now);
  DeliverLocal(now);
}

void Node::SubmitAlone(const WriteRequest& request, Time now) {
  // A member alone is its own majority: its promise and its commit are the
  // same instant, so it decides against its own register and applies at
  // once, with the same rules a round uses (decision.cc), at a fresh ballot.
  const auto answer = [&](WriteOutcome outcome, uint64_t token, int64_t remaining_ms,
                          std::string detail) {
    if (request.request_id != 0) {
      alone_results_.push_back({request.request_id, outcome, token, remaining_ms, std::move(detail)});
    }
  };
  if (acceptor_.Quarantined(now.mono_ms)) {
    return answer(WriteOutcome::kTryAgain, 0, 0,
                  "members are in restart quarantine for another " +
                      std::to_string(acceptor_.quarantine_until_ms() - now.mono_ms) + " ms");
  }
  Register& reg = table_.FindOrCreate(request.key, now.mono_ms);
  LeaseView lease;
  if (reg.HeldAt(now.mono_ms)) {
    lease.held = true;
    lease.owner = reg.owner;
    lease.token = reg.token;
    lease.remaining_ms = reg.RemainingMs(now.mono_ms);
  }
  const Decision decision =
      DecideWrite({request, lease, reg.accepted, acceptor_.token_counter(),
                   FloorWallMs(now.wall_ms, options_.broken), options_.drift, options_.max_lease_ms});
  switch (decision.kind) {
    case Decision::Kind::kRefuse:
      return answer(WriteOutcome::kRefused, decision.holder_token, decision.holder_remaining_ms, {});
    case Decision::Kind::kNothing:
      return answer(WriteOutcome::kDone, 0, 0, {});
    case Decision::Kind::kCommit:
      break;
  }
  const Ballot ballot = coordinator_.NextBallotAbove(std::max(reg.promised, table_.ballot_floor()));
  acceptor_.ApplyOwnDecision(reg, ballot, decision.held, decision.owner, decision.token,
                             decision.ttl_ms, now.mono_ms);
  answer(WriteOutcome::kDone, decision.token, 0, {});
}

void Node::Receive(const Message& message, Time now) {
  Handle(message, now);
  ProbeQuietPeers(now);  // A commit of unknown age asks for a probe at once.
  DeliverLocal(now);
  CollectResults(now);
  DeliverLocal(now);
}

bool Node::LeaseSane(bool held, int64_t ttl_ms, uint64_t token) {
  // A held lease has a ttl in 1..max-lease-ms and a token (tokens start at 1).
  if (!held || (ttl_ms >= 1 && ttl_ms <= options_.max_lease_ms && token != 0)) return true;
  ++malformed_messages_;  // A peer's bug or forgery: dropped, never applied.
  return false;
}

bool Node::FreshEnough(const Message& message, std::optional<int64_t> age_ms) {
  if (message.from == options_.self || options_.broken.apply_stale_commits) return true;
  if (age_ms && *age_ms <= MessageAgeMaxMs(options_.round_timeout_ms)) return true;
  ++stale_commits_;  // Too old, or from a run of the peer not yet bounded.
  // Of unknown age: its sender's clock is not bounded yet (a new run, or a
  // link just up). A probe bounds it for the next commits.
  if (!age_ms) clocks_.ProbeSoon(message.from);
  return false;
}

void Node::Handle(const Message& message, Time now) {
  if (message.to != options_.self || message.from >= kMembersMax || !CheckEpoch(message, now)) return;
  std::optional<int64_t> age_ms;
  if (message.from != options_.self) age_ms = clocks_.Receive(message.from, message.stamp, now.mono_ms);
  // This member's own next round starts above every ballot it has seen
  // from a peer: a waiter woken by another member's release would otherwise
  // be refused by its own acceptor and back off before it could win.
  if (const auto* prepare = std::get_if<Prepare>(&message.body)) {
    coordinator_.RaiseBallot(prepare->ballot);
    pending_.push_back({options_.self, message.from, acceptor_.OnPrepare(*prepare, now.mono_ms)});
  } else if (const auto* accept = std::get_if<Accept>(&message.body)) {
    if (!LeaseSane(accept->held, accept->ttl_ms, accept->token)) return;
    coordinator_.RaiseBallot(accept->ballot);
    if (!FreshEnough(message, age_ms)) {
      // Older than L (or of unknown age): a lease started now could outlive
      // the write that superseded it. Refused, so that a one-round-trip
      // write runs its full round at once.
      pending_.push_back({options_.self, message.from,
                          Accepted{accept->round_id, accept->ballot, Vote::kNo, accept->ballot, 0}});
      return;
    }
    pending_.push_back({options_.self, message.from, acceptor_.OnAccept(*accept, now.mono_ms)});
  } else if (const auto* promise = std::get_if<Promise>(&message.body)) {
    // Durations from a peer are bounded before any arithmetic uses them.
    Promise bounded = *promise;
    bounded.lease.remaining_ms = std::clamp<int64_t>(bounded.lease.remaining_ms, 0, options_.max_lease_ms);
    bounded.quarantine_left_ms = std::max<int64_t>(bounded.quarantine_left_ms, 0);
    if (bounded.lease.held && !LeaseSane(true, std::max<int64_t>(bounded.lease.remaining_ms, 1), bounded.lease.token)) {
      return;  // A held lease without a token: a peer's bug or forgery.
    }
    if (TxnCoordinator::Owns(bounded.round_id)) {
      txn_.OnPromise(message.from, bounded, now, &pending_);
    } else {
      coordinator_.OnPromise(message.from, bounded, now, &pending_);
    }
  } else if (const auto* accepted = std::get_if<Accepted>(&message.body)) {
    if (TxnCoordinator::Owns(accepted->round_id)) {
      txn_.OnAccepted(message.from, *accepted, now, &pending_);
    } else {
      coordinator_.OnAccepted(message.from, *accepted, now, &pending_);
    }
  } else if (const auto* request = std::get_if<SyncRequest>(&message.body)) {
    AnswerSync(message.from, *request);
  } else if (const auto* reply = std::get_if<SyncReply>(&message.body)) {
    // From a member that knows a newer configuration: not counted until
    // this member has adopted it (CheckEpoch asked for it; the requests are
    // sent again), so that a member that lost its disk never completes its
    // recovery, and votes, under a configuration the cluster has left.
    if (message.epoch > membership_.epoch) return;
    OnSyncReply(message.from, *reply, now);
  } else if (const auto* learn = std::get_if<Learn>(&message.body)) {
    if (!LeaseSane(learn->held, learn->ttl_ms, learn->token)) return;
    coordinator_.RaiseBallot(learn->ballot);
    if (!FreshEnough(message, age_ms)) return;
    acceptor_.OnLearn(*learn, now.mono_ms);
  } else if (std::holds_alternative<Probe>(message.body)) {
    pending_.push_back({options_.self, message.from, ProbeReply{}});
  } else if (const auto* configuration = std::get_if<Configuration>(&message.body)) {
    AdoptMembership(configuration->membership, now);
  } else if (std::holds_alternative<ConfigurationQuery>(message.body)) {
    pending_.push_back({options_.self, message.from, Configuration{membership_}});
  } else if (const auto* config_prepare = std::get_if<ConfigPrepare>(&message.body)) {
    OnConfigPrepare(message.from, *config_prepare);
  } else if (const auto* config_promise = std::get_if<ConfigPromise>(&message.body)) {
    OnConfigPromise(message.from, *config_promise, now);
  } else if (const auto* config_accept = std::get_if<ConfigAccept>(&message.body)) {
    OnConfigAccept(message.from, *config_accept);
  } else if (const auto* config_accepted = std::get_if<ConfigAccepted>(&message.body)) {
    OnConfigAccepted(message.from, *config_accepted, now);
  } else if (const auto* catch_up = std::get_if<CatchUp>(&message.body)) {
    OnCatchUp(message.from, *catch_up, message.epoch, now);
  } else if (const auto* caught_up = std::get_if<CaughtUp>(&message.body)) {
    OnCaughtUp(message.from, *caught_up, now);
  } else if (const auto* raise = std::get_if<RaiseFloors>(&message.body)) {
    OnRaiseFloors(message.from, *raise, message.epoch);
  } else if (const auto* raised = std::get_if<FloorsRaised>(&message.body)) {
    OnFloorsRaised(message.from, *raised, now);
  }
  // A ProbeReply has done its work: its stamp bounded the peer's clock.
}

bool Node::CheckEpoch(const Message& message, Time now) {
  // 0: built without one (a test's; DeliverLocal sets it on everything a
  // member sends), judged as of this member's epoch.
  if (message.epoch != 0 && message.epoch < membership_.epoch) {
    // A round of an older configuration: no vote, so that once a majority
    // of that configuration's voters has adopted a newer one, none of its
    // rounds can gather a majority (CLUSTER-SAFETY.md, "Membership
    // change"). Replies, Learns (a chosen value stays chosen), recovery and
    // probes are judged as before.
    std::optional<Message::Body> refusal = StaleEpochRefusal(message.body);
    if (!refusal || options_.broken.votes_in_old_epochs) return true;
    ++stale_epoch_refusals_;
    if (message.from != options_.self) {
      pending_.push_back({options_.self, message.from, Configuration{membership_}});
    }
    pending_.push_back({options_.self, message.from, std::move(*refusal)});
    return false;
  }
  if (message.epoch > membership_.epoch && !std::holds_alternative<Configuration>(message.body) &&
      (message.epoch > asked_epoch_ || now.mono_ms - asked_at_ms_ >= options_.probe_interval_ms)) {
    // This member is behind: its sender knows a newer configuration (asked
    // once per epoch, and again each probe interval while the answer does
    // not come). What the message asks is judged as usual (an acceptor's
    // rules do not depend on the configuration; only which majorities
    // count does).
    asked_epoch_ = message.epoch;
    asked_at_ms_ = now.mono_ms;
    pending_.push_back({options_.self, message.from, ConfigurationQuery{}});
  }
  return true;
}

bool Node::AdoptMembership(const Membership& membership, Time now) {
  (void)now;
  if (membership.epoch <= membership_.epoch || !membership.Valid()) return false;
  UseMembership(membership);
  NoteFirstConfiguration();
  NoteMembershipState();
  return true;
}

void Node::UseMembership(const Membership& membership) {
  // A member that joins did not count the answers of members that knew a
  // configuration (Handle): it asks again under this one.
  if (membership_.epoch == 0 && membership.epoch != 0) recovery_.AskAgainSoon();
  membership_ = membership;
  coordinator_.SetMembership(membership_);
  table_.SetIdleMs(TombstoneMs(options_, membership_));
  recovery_.SetVoters(membership_.voters);
}

Ballot Node::HighestBallot() const {
  Ballot highest = std::max(table_.ballot_floor(), coordinator_.last_ballot());
  for (size_t slot = 0; slot < table_.slot_limit(); ++slot) {
    if (const Register* reg = table_.RegisterAt(slot)) highest = std::max(highest, reg->promised);
  }
  return highest;
}

void Node::SubmitTxn(TxnRequest request, Time now) {
  if (membership_.epoch == 0) {
    if (request.request_id != 0) {
      alone_results_.push_back({request.request_id, WriteOutcome::kTryAgain, 0, 0, kJoiningDetail});
    }
    return;
  }
  if (membership_.Alone(options_.self)) return SubmitTxnAlone(request, now);
  txn_.Submit(std::move(request), now, &pending_);
  DeliverLocal(now);
  CollectResults(now);
  DeliverLocal(now);
}

void Node::SubmitTxnAlone(const TxnRequest& request, Time now) {
  // As SubmitAlone: promise and commit are one instant on a member alone.
  // The body runs on its own registers and its writes apply at once, at
  // one fresh ballot above every key's; a renewal keeps the longer
  // deadline (Acceptor::Apply).
  const auto answer = [&](WriteOutcome outcome, std::string detail) {
    if (request.request_id != 0) alone_results_.push_back({request.request_id, outcome, 0, 0, std::move(detail)});
  };
  if (acceptor_.Quarantined(now.mono_ms)) {
    return answer(WriteOutcome::kTryAgain,
                  "members are in restart quarantine for another " +
                      std::to_string(acceptor_.quarantine_until_ms() - now.mono_ms) + " ms");
  }
  std::vector<LeaseView> leases(request.keys.size());
  for (size_t i = 0; i < request.keys.size(); ++i) {
    if (const Register* reg = table_.FindHeld(request.keys[i], now.mono_ms)) {
      leases[i] = {true, reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms)};
    }
  }
  const std::vector<TxnWrite> writes =
      request.body(TxnView{request.keys, leases, acceptor_.token_counter(),
                           FloorWallMs(now.wall_ms, options_.broken)});
  CHECK(writes.size() == request.keys.size());
  Ballot floor = table_.ballot_floor();
  for (size_t i = 0; i < writes.size(); ++i) {
    if (!writes[i].write) continue;
    if (const Register* reg = table_.Find(request.keys[i])) floor = std::max(floor, reg->promised);
  }
  const Ballot ballot = coordinator_.NextBallotAbove(floor);
  for (size_t i = 0; i < writes.size(); ++i) {
    const TxnWrite& write = writes[i];
    if (!write.write) continue;
    Register& reg = table_.FindOrCreate(request.keys[i], now.mono_ms);
    const int64_t ttl_ms = write.held ? std::min(write.ttl_ms, options_.max_lease_ms) : 0;
    acceptor_.ApplyOwnDecision(reg, ballot, write.held && ttl_ms > 0, write.held ? write.owner : std::string(),
                               write.held ? write.token : 0, ttl_ms, now.mono_ms);
  }
  answer(WriteOutcome::kDone, {});
}

void Node::DeliverLocal(Time now) {
  // Handling one message may produce more (a promise leads to accepts), so
  // work through a queue; messages for others are set aside.
  while (!pending_.empty()) {
    local_batch_.clear();
    local_batch_.swap(pending_);
    for (Message& message : local_batch_) {
      if (message.epoch == 0) message.epoch = membership_.epoch;
      if (message.to == options_.self) {
        Handle(message, now);
      } else {
        message.stamp = clocks_.StampFor(message.to, now.mono_ms);
        outbox_.push_back(std::move(message));
      }
    }
  }
}

void Node::Tick(Time now) {
  last_tick_ms_ = now.mono_ms;
  table_.ExpireDue(now.mono_ms, options_.expire_budget);
  coordinator_.Tick(now, &pending_);
  txn_.Tick(now, &pending_);
  if (recovery_.recovering()) {
    if (recovery_.RequestsDue(now.mono_ms)) SendSyncRequests(now);
    // A member that joins is overdue only once every listed member has
    // answered (none knowing a configuration): one it has not heard from
    // may be the one that knows it. Unless the operator said the cluster
    // is new.
    // Nor does one that joined and adopted a configuration it was told
    // (MembershipState::joined).
    const bool waits_for_every_member =
        !recovery_.EveryOtherAnswered() &&
        options_.first_configuration != NodeOptions::FirstConfiguration::kAlsoWithAMemberMissing &&
        (membership_.epoch == 0 || (membership_state_.joined && !options_.broken.joined_falls_back_early));
    if (recovery_.Hopeless() || (recovery_.FirstStartOverdue(now.mono_ms) && !waits_for_every_member)) {
      if (!recovery_.lost_memory()) {
        // A first start that cannot tell whether the cluster is new (too
        // many of the others are recovering, or missing): as after losing
        // its memory.
        ++first_starts_undecided_;
        LoseMemory(now);
      } else if (now.mono_ms >= acceptor_.quarantine_until_ms() && !waits_for_every_member) {
        FallBackToWallClockFloors(now);
      }
    }
  }
  TickMembership(now);
  ProbeQuietPeers(now);
  DeliverLocal(now);
  CollectResults(now);
  DeliverLocal(now);
}

void Node::ProbeQuietPeers(Time now) {
  if (membership_.Alone(options_.self)) return;
  ForEachMember(membership_.members() & ~(uint32_t{1} << options_.self), [&](MemberId member) {
    if (!clocks_.ProbeDue(member, now.mono_ms)) return;
    clocks_.ProbeSent(member, now.mono_ms);
    pending_.push_back({options_.self, member, Probe{}});
  });
}

std::optional<int64_t> Node::NextWakeMs() const {
  std::optional<int64_t> next = table_.NextWakeMs();
  const auto earliest = [&next](std::optional<int64_t> at) {
    if (at && (!next || *at < *next)) next = at;
  };
  earliest(coordinator_.NextWakeMs());
  earliest(txn_.NextWakeMs());
  if (recovery_.recovering()) {
    earliest(recovery_.NextWakeMs());
    // The fallback is first judged when the quarantine ends, then with each
    // round of requests.
    if (acceptor_.quarantine_until_ms() > last_tick_ms_) earliest(acceptor_.quarantine_until_ms());
  }
  if (!membership_.Alone(options_.self)) earliest(clocks_.NextProbeMs(membership_.members()));
  if (change_) {
    switch (change_->phase) {
      case ChangeRound::Phase::kPrepare:
      case ChangeRound::Phase::kAccept: earliest(change_->deadline_ms); break;
      case ChangeRound::Phase::kBackoff: earliest(change_->resend_at_ms); break;
      case ChangeRound::Phase::kCatchUp:
      case ChangeRound::Phase::kFloors: earliest(std::min(change_->deadline_ms, change_->resend_at_ms)); break;
    }
  }
  return next;
}

void Node::TakeOutbox(std::vector<Message>* out) {
  out->clear();
  out->swap(outbox_);
}

void Node::TakeResults(std::vector<WriteResult>* out) {
  // Every source appends, in this fixed order: the single-key rounds', the
  // transactions', then what a member alone answered at once. The server
  // answers clients and wakes waiters in the order it reads them, so a run
  // from one seed (the simulator, the explorer's replays) must see the same
  // order every time; and since each source only appends, none can drop
  // another's results, whatever order they are called in.
  out->clear();
  out->insert(out->end(), std::make_move_iterator(coordinator_results_.begin()),
              std::make_move_iterator(coordinator_results_.end()));
  coordinator_results_.clear();
  coordinator_.TakeResults(out);  // Nothing of a catch-up's: CollectResults took them.
  txn_.TakeResults(out);
  out->insert(out->end(), std::make_move_iterator(alone_results_.begin()),
              std::make_move_iterator(alone_results_.end()));
  alone_results_.clear();
}

}  // namespace lockerd::cluster
