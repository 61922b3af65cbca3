// TxnCoordinator: a transaction's life from submission to answer (attempts,
// the peek, promises, running the body, counting accepts, timeouts,
// rollbacks, results). Split by job beside it: the accepts phase 2 sends
// (txn_accepts.cc) and what a commit pre-empted by a rival does
// (txn_pre_empted.cc).
#include "cluster/txn_coordinator.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <utility>

#include "cluster/backoff.h"
#include "base/check.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/limits.h"
#include "cluster/peek.h"
#include "cluster/promise_merge.h"

namespace lockerd::cluster {

TxnCoordinator::TxnCoordinator(const CoordinatorOptions& options, Coordinator* ballots)
    : options_(options), ballots_(ballots), rng_(options.seed ^ 0x7478'6e00'0000'0000ULL) {
  // As the single-key rounds' ids, a random start makes a late reply to an
  // earlier run of this member unlikely to match.
  next_txn_seq_ = 1 + (rng_() >> 24);
}

void TxnCoordinator::Submit(TxnRequest request, Time now, std::vector<Message>* outbox) {
  CHECK(!request.keys.empty() && request.keys.size() <= kTxnKeysMax);
  if (txns_.size() >= kRoundsInFlightMax) {
    if (request.request_id != 0) {
      results_.push_back({request.request_id, WriteOutcome::kTryAgain, 0, 0,
                          "too many scripts in flight on this member"});
    }
    return;
  }
  Txn txn;
  txn.request = std::move(request);
  const uint64_t txn_id = kRoundIdBit | ((next_txn_seq_++ << kKeyBits) & ~kRoundIdBit);
  StartAttempt(txn_id, std::move(txn), now, outbox);
}

void TxnCoordinator::StartAttempt(uint64_t txn_id, Txn txn, Time now,
                                  std::vector<Message>* outbox, bool may_peek) {
  ++stats_.started;
  txn.ballot = ballots_->TakeBallot();
  // A peek promises nothing: the ballot only matches replies to attempts.
  const bool peek =
      may_peek && !txn.confirming && txn.request.peek_first && txn.request.keys.size() == 1;
  if (peek) ++stats_.peeks;
  txn.phase = peek ? Phase::kPeek : Phase::kPromise;
  txn.sent_ms = now.mono_ms;
  txn.deadline_ms = now.mono_ms + options_.round_timeout_ms;
  txn.keys.assign(txn.request.keys.size(), KeyRound());
  // The coordinator's configuration (its rounds and this one's share it).
  txn.epoch = ballots_->membership().epoch;
  txn.voters = ballots_->membership().voters;
  for (KeyRound& key : txn.keys) key.tally = QuorumTally::Of(txn.voters);
  txn.keys_reached = 0;
  txn.keys_writing = 0;
  txn.counter_max = 0;
  txn.quarantined = false;
  txn.outvoted = false;
  txn.quarantine_left_ms = 0;
  for (size_t i = 0; i < txn.request.keys.size(); ++i) {
    ForEachMember(txn.voters, [&](MemberId member) {
      Message message{options_.self, member, Prepare{txn_id | i, txn.request.keys[i], txn.ballot, peek}};
      message.epoch = txn.epoch;
      outbox->push_back(std::move(message));
    });
  }
  auto [it, inserted] = txns_.insert_or_assign(txn_id, std::move(txn));
  (void)it;
  CHECK(inserted);
}

TxnCoordinator::Txn* TxnCoordinator::Lookup(uint64_t round_id, Ballot ballot, Phase phase,
                                            size_t* key_index, uint64_t* txn_id) {
  *txn_id = round_id & ~((uint64_t{1} << kKeyBits) - 1);
  *key_index = static_cast<size_t>(round_id & ((uint64_t{1} << kKeyBits) - 1));
  const auto it = txns_.find(*txn_id);
  if (it == txns_.end() || it->second.phase != phase || it->second.ballot != ballot ||
      *key_index >= it->second.keys.size()) {
    ++stats_.stale_replies;
    return nullptr;
  }
  return &it->second;
}

bool TxnCoordinator::Count(Txn& txn, KeyRound& key, MemberId from, Vote vote, Ballot highest,
                           int64_t quarantine_left_ms) {
  if (vote == Vote::kYes) return key.tally.RecordYes(from);
  ballots_->RaiseBallot(highest);
  if (vote == Vote::kNo || vote == Vote::kStaleEpoch) txn.outvoted = true;  // As Coordinator::Count.
  if (vote == Vote::kQuarantined) {
    txn.quarantined = true;
    txn.quarantine_left_ms = std::max(txn.quarantine_left_ms, quarantine_left_ms);
  }
  return key.tally.RecordNo(from);
}

void TxnCoordinator::OnPromise(MemberId from, const Promise& promise, Time now,
                               std::vector<Message>* outbox) {
  // A reply read after its attempt's deadline (a paused coordinator) ends
  // the attempt as the timer would: nothing is committed after a round's
  // timeout (CLUSTER-SAFETY.md, "How long an older state can live").
  if (HasDue(now)) TimeOut(now, outbox);
  size_t index = 0;
  uint64_t txn_id = 0;
  const uint64_t key_mask = (uint64_t{1} << kKeyBits) - 1;
  const auto peeking = txns_.find(promise.round_id & ~key_mask);
  if (peeking != txns_.end() && peeking->second.phase == Phase::kPeek &&
      peeking->second.ballot == promise.ballot &&
      (promise.round_id & key_mask) < peeking->second.keys.size()) {
    Txn& txn = peeking->second;
    return OnPeekReply(from, promise, peeking->first, txn, txn.keys[promise.round_id & key_mask], now,
                       outbox);
  }
  Txn* txn = Lookup(promise.round_id, promise.ballot, Phase::kPromise, &index, &txn_id);
  if (txn == nullptr) return;
  KeyRound& key = txn->keys[index];
  const bool was_reached = key.tally.Reached();
  if (!Count(*txn, key, from, promise.vote, promise.highest, promise.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  if (promise.vote == Vote::kYes && !was_reached) {
    if (!MergePromiseYes(promise, &key.chosen_set, &key.chosen_ballot, &key.chosen)) key.agree = false;
    txn->counter_max = std::max(txn->counter_max, promise.token_counter);
  }
  if (!was_reached && key.tally.Reached() && ++txn->keys_reached == txn->keys.size()) {
    return Decide(txn_id, *txn, now, outbox);
  }
  if (key.tally.Impossible()) Retry(txn_id, *txn, now, outbox);
}

// As Coordinator::OnPeekReply: when a majority agreed on a register, that
// state was chosen and nothing after it (peek.h), so a body that only reads
// it answers as linearizably as after promises, and has pre-empted no one.
// Only one-key transactions peek: several keys' agreeing reads need not all
// hold at one instant. Anything else (a disagreement, no majority, a body
// that writes) runs the full round, where the body runs again.
void TxnCoordinator::OnPeekReply(MemberId from, const Promise& reply, uint64_t txn_id, Txn& txn,
                                 KeyRound& key, Time now, std::vector<Message>* outbox) {
  if (!Count(txn, key, from, reply.vote, reply.highest, reply.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  if (reply.vote == Vote::kYes) {
    if (!MergePeekYes(reply, &key.chosen_set, &key.chosen_ballot, &key.chosen)) key.agree = false;
    txn.counter_max = std::max(txn.counter_max, reply.token_counter);
  }
  const PeekStep step = NextPeekStep(key.agree, key.tally);
  if (step == PeekStep::kWait) return;
  if (step == PeekStep::kAgreed) {
    const std::vector<LeaseView> leases = {key.chosen};
    const std::vector<TxnWrite> writes =
        txn.request.body(TxnView{txn.request.keys, leases, txn.counter_max,
                                 FloorWallMs(now.wall_ms, options_.broken)});
    if (std::none_of(writes.begin(), writes.end(), [](const TxnWrite& w) { return w.write; })) {
      ++stats_.peek_answers;
      return Finish(txn_id, WriteOutcome::kDone, {});
    }
  }
  Txn moved = std::move(txn);
  txns_.erase(txn_id);
  StartAttempt(txn_id, std::move(moved), now, outbox, /*may_peek=*/false);
}

void TxnCoordinator::Decide(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox) {
  std::vector<TxnWrite> writes(txn.keys.size());
  if (txn.confirming && NothingChangedSincePreEmptedRead(txn)) {
    ++stats_.rerun_unchanged;  // Nothing of the body's took effect: it runs again.
    txn.confirming = false;
    txn.pre_empted.clear();
  }
  if (txn.confirming) {
    if (!FoundPreEmptedWrites(txn, now)) {
      // Unknown. What was found is written back at this ballot first, so
      // that a pre-empted accept still on a minority can never be chosen
      // later (a lease no client knows it holds); then the client hears it.
      txn.answer_unknown = true;
      SendAccepts(txn_id, txn, writes, outbox);
      return;
    }
    ++stats_.carried_on;
    // The body's writes are in effect: renewals and hand-overs are sent
    // again (harmless if they had taken effect); every other key is
    // written back as found (below).
    for (size_t i = 0; i < txn.keys.size(); ++i) {
      const PreEmpted& pre = txn.pre_empted[i];
      if (pre.kind != WriteKind::kSameToken) continue;
      writes[i] = {true, true, pre.sent.owner, pre.sent.token, pre.sent.ttl_ms, /*grants=*/true};
    }
  } else {
    std::vector<LeaseView> leases;
    leases.reserve(txn.keys.size());
    for (const KeyRound& key : txn.keys) leases.push_back(key.chosen);
    writes = txn.request.body(
        TxnView{txn.request.keys, leases, txn.counter_max, FloorWallMs(now.wall_ms, options_.broken)});
    CHECK(writes.size() == txn.keys.size());
  }
  SendAccepts(txn_id, txn, writes, outbox);
  if (txn.keys_writing == 0) {
    ++stats_.read_only;
    Finish(txn_id, WriteOutcome::kDone, {});
  }
}

void TxnCoordinator::OnAccepted(MemberId from, const Accepted& accepted, Time now,
                                std::vector<Message>* outbox) {
  if (HasDue(now)) TimeOut(now, outbox);  // As in OnPromise.
  HandleAccepted(from, accepted, now, outbox);
  SubmitRollbacks(now, outbox);
}

void TxnCoordinator::HandleAccepted(MemberId from, const Accepted& accepted, Time now,
                                    std::vector<Message>* outbox) {
  size_t index = 0;
  uint64_t txn_id = 0;
  Txn* txn = Lookup(accepted.round_id, accepted.ballot, Phase::kAccept, &index, &txn_id);
  if (txn == nullptr) return;
  KeyRound& key = txn->keys[index];
  if (!key.writing) {
    ++stats_.stale_replies;
    return;
  }
  const bool was_reached = key.tally.Reached();
  if (!Count(*txn, key, from, accepted.vote, accepted.highest, accepted.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  if (!was_reached && key.tally.Reached() && ++txn->keys_reached == txn->keys_writing) {
    if (!txn->deferred.empty()) return SendDeferred(*txn, outbox);
    return Completed(txn_id, *txn, now, outbox);
  }
  if (key.tally.Impossible()) CommitPreEmpted(txn_id, *txn, index, now, outbox);
}

void TxnCoordinator::Completed(uint64_t txn_id, Txn& txn, Time now,
                               std::vector<Message>* outbox) {
  if (txn.answer_unknown) {
    return Finish(txn_id, WriteOutcome::kNoQuorum,
                  "a rival write pre-empted the script's commit; its writes may have taken effect "
                  "in part");
  }
  for (size_t i = 0; i < txn.keys.size(); ++i) {
    const KeyRound& key = txn.keys[i];
    // Confirming, a carried-on lease counts from the commit that wrote it.
    const bool carried = txn.confirming && (txn.pre_empted[i].kind == WriteKind::kNewLease ||
                                            txn.pre_empted[i].kind == WriteKind::kSameToken);
    const int64_t ttl_ms = carried ? txn.pre_empted[i].sent.ttl_ms : key.accept.ttl_ms;
    const int64_t elapsed_ms = now.mono_ms - (carried ? txn.pre_empted_sent_ms : txn.sent_ms);
    if (key.writing && (key.grants || carried) && !RoundLeaseStillValid(ttl_ms, options_.drift, elapsed_ms)) {
      return Finish(txn_id, WriteOutcome::kNoQuorum,
                    "a lease the script wrote ran out before a majority accepted it");
    }
  }
  for (const KeyRound& key : txn.keys) {
    if (!key.writing) continue;
    const Accept& accept = key.accept;
    const Learn learn{accept.key,   accept.ballot, accept.held, accept.owner,
                      accept.token, accept.ttl_ms, accept.carry_from};
    ForEachMember(txn.voters | ballots_->membership().learners, [&](MemberId member) {
      if (key.tally.SaidYes(member)) return;
      Message message{options_.self, member, {}};
      message.epoch = txn.epoch;
      message.body = learn;
      outbox->push_back(std::move(message));
    });
  }
  ++stats_.committed;
  Finish(txn_id, WriteOutcome::kDone, {});
}

void TxnCoordinator::Retry(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox) {
  if (txn.quarantined && !txn.outvoted) {
    return Finish(txn_id, WriteOutcome::kTryAgain,
                  Coordinator::QuarantineDetail(txn.quarantine_left_ms));
  }
  if (txn.attempt + 1 >= kRoundAttemptsMax) {
    return Finish(txn_id, WriteOutcome::kNoQuorum,
                  "pre-empted by other writes to the script's keys " +
                      std::to_string(kRoundAttemptsMax) + " times");
  }
  ++stats_.retried;
  ++txn.attempt;
  const int64_t window_ms = BackoffWindowMs(txn.attempt);
  const int64_t delay_ms = std::uniform_int_distribution<int64_t>(0, window_ms)(rng_);
  if (delay_ms == 0 || std::popcount(txn.voters) == 1) {
    Txn moved = std::move(txn);
    txns_.erase(txn_id);
    return StartAttempt(txn_id, std::move(moved), now, outbox);
  }
  txn.phase = Phase::kBackoff;
  txn.retry_at_ms = now.mono_ms + delay_ms;
}

void TxnCoordinator::Tick(Time now, std::vector<Message>* outbox) {
  TimeOut(now, outbox);
  SubmitRollbacks(now, outbox);
}

void TxnCoordinator::TimeOut(Time now, std::vector<Message>* outbox) {
  std::vector<uint64_t> due;
  for (const auto& [txn_id, txn] : txns_) {
    const int64_t at_ms = txn.phase == Phase::kBackoff ? txn.retry_at_ms : txn.deadline_ms;
    if (at_ms <= now.mono_ms) due.push_back(txn_id);
  }
  for (const uint64_t txn_id : due) {
    auto it = txns_.find(txn_id);
    if (it == txns_.end()) continue;
    Txn& txn = it->second;
    if (txn.phase == Phase::kBackoff) {
      Txn moved = std::move(txn);
      txns_.erase(it);
      StartAttempt(txn_id, std::move(moved), now, outbox);
      continue;
    }
    ++stats_.timed_out;
    const bool body_wrote = std::any_of(txn.keys.begin(), txn.keys.end(),
                                        [](const KeyRound& k) { return k.body_wrote; });
    if (txn.quarantined && !(txn.phase == Phase::kAccept && body_wrote) && !txn.confirming) {
      Finish(txn_id, WriteOutcome::kTryAgain, Coordinator::QuarantineDetail(txn.quarantine_left_ms));
    } else {
      std::string detail = DescribeAnswers(txn);
      if (txn.phase == Phase::kAccept && txn.keys_reached > 0) {
        detail += "; the script's writes may have taken effect in part";
      }
      Finish(txn_id, WriteOutcome::kNoQuorum, std::move(detail));
    }
  }
}

bool TxnCoordinator::HasDue(Time now) const {
  const std::optional<int64_t> next = NextWakeMs();
  return next && *next <= now.mono_ms;
}

std::optional<int64_t> TxnCoordinator::NextWakeMs() const {
  std::optional<int64_t> next;
  for (const auto& [txn_id, txn] : txns_) {
    const int64_t at_ms = txn.phase == Phase::kBackoff ? txn.retry_at_ms : txn.deadline_ms;
    if (!next || at_ms < *next) next = at_ms;
  }
  return next;
}

std::string TxnCoordinator::DescribeAnswers(const Txn& txn) const {
  // The key that fell shortest of a majority says what happened.
  const KeyRound* worst = &txn.keys.front();
  for (const KeyRound& key : txn.keys) {
    if ((txn.phase != Phase::kAccept || key.writing) && key.tally.yes_count() < worst->tally.yes_count()) {
      worst = &key;
    }
  }
  return std::to_string(worst->tally.answered_count()) + " of " +
         std::to_string(worst->tally.members_count()) + " members answered, " +
         std::to_string(worst->tally.yes_count()) + " agreed; a majority is " +
         std::to_string(worst->tally.majority());
}

void TxnCoordinator::Finish(uint64_t txn_id, WriteOutcome outcome, std::string detail) {
  const auto it = txns_.find(txn_id);
  CHECK(it != txns_.end());
  const Txn& txn = it->second;
  if (outcome != WriteOutcome::kDone && txn.phase == Phase::kAccept && !txn.confirming) {
    // Its client was told it failed: a grant of a key it read free must not
    // stay behind, held by no one who knows. (A key it took over from a
    // holder is left: undoing it would free the old holder's lease too.)
    for (const KeyRound& key : txn.keys) {
      if (!key.writing || !key.body_wrote || !key.new_lease || key.chosen.held) continue;
      WriteRequest undo;
      undo.op = WriteOp::kRollback;
      undo.key = key.accept.key;
      undo.rollback_ballot = txn.ballot;
      rollbacks_.push_back(std::move(undo));
      ++stats_.rollbacks;
    }
  }
  if (outcome != WriteOutcome::kDone && txn.confirming) {
    // Confirming a pre-empted commit, and failed: the first commit's grants
    // may be in effect (carried on by the rival, or written back by this
    // attempt at its own ballot) while its client is told it failed. Each
    // is undone at the ballot it is at: this attempt's, when its accepts
    // wrote it back (its promises saw everything chosen below), else the
    // first commit's (what is at that ballot is the grant; below it, the
    // grant reached a minority at most).
    for (size_t i = 0; i < txn.keys.size(); ++i) {
      const PreEmpted& pre = txn.pre_empted[i];
      if (pre.kind != WriteKind::kNewLease || pre.read.held) continue;
      const KeyRound& key = txn.keys[i];
      // Ours when this attempt's reads chose the state accepted at the first
      // commit's ballot: a token alone does not say whose a lease is (two
      // coordinators can grant one token in the same millisecond).
      const bool written_back = txn.phase == Phase::kAccept && key.writing && key.accept.held &&
                                key.chosen_ballot == pre.sent.ballot;
      WriteRequest undo;
      undo.op = WriteOp::kRollback;
      undo.key = pre.sent.key;
      undo.rollback_ballot = written_back ? txn.ballot : pre.sent.ballot;
      rollbacks_.push_back(std::move(undo));
      ++stats_.rollbacks;
    }
  }
  const uint64_t request_id = txn.request.request_id;
  txns_.erase(it);
  if (request_id != 0) results_.push_back({request_id, outcome, 0, 0, std::move(detail)});
}

void TxnCoordinator::SubmitRollbacks(Time now, std::vector<Message>* outbox) {
  std::vector<WriteRequest> undo;
  undo.swap(rollbacks_);
  for (WriteRequest& request : undo) ballots_->Submit(std::move(request), now, outbox);
}

void TxnCoordinator::TakeResults(std::vector<WriteResult>* out) {
  out->insert(out->end(), std::make_move_iterator(results_.begin()),
              std::make_move_iterator(results_.end()));
  results_.clear();
}

}  // namespace lockerd::cluster
