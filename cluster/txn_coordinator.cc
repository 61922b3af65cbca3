#include "cluster/txn_coordinator.h"

#include <algorithm>
#include <utility>

#include "cluster/check.h"
#include "cluster/lease_math.h"
#include "cluster/limits.h"

namespace lockerd::cluster {
namespace {

// Backoff after a pre-empted read, as the single-key round's (uniform in
// [0, min(cap, 4 << attempt)] ms).
constexpr int64_t kBackoffCapMs = 64;

}  // namespace

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
                                  std::vector<Message>* outbox) {
  ++stats_.started;
  txn.ballot = ballots_->TakeBallot();
  txn.phase = Phase::kPromise;
  txn.sent_ms = now.mono_ms;
  txn.deadline_ms = now.mono_ms + options_.round_timeout_ms;
  txn.keys.assign(txn.request.keys.size(), KeyRound());
  for (KeyRound& key : txn.keys) key.tally = QuorumTally(options_.members_count);
  txn.keys_reached = 0;
  txn.keys_writing = 0;
  txn.counter_max = 0;
  txn.quarantined = false;
  txn.outvoted = false;
  txn.quarantine_left_ms = 0;
  for (size_t i = 0; i < txn.request.keys.size(); ++i) {
    for (MemberId member = 0; member < options_.members_count; ++member) {
      outbox->push_back({options_.self, member,
                         Prepare{txn_id | i, txn.request.keys[i], txn.ballot, false}});
    }
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
  if (vote == Vote::kNo) txn.outvoted = true;
  if (vote == Vote::kQuarantined) {
    txn.quarantined = true;
    txn.quarantine_left_ms = std::max(txn.quarantine_left_ms, quarantine_left_ms);
  }
  return key.tally.RecordNo(from);
}

void TxnCoordinator::OnPromise(MemberId from, const Promise& promise, Time now,
                               std::vector<Message>* outbox) {
  size_t index = 0;
  uint64_t txn_id = 0;
  Txn* txn = Lookup(promise.round_id, promise.ballot, Phase::kPromise, &index, &txn_id);
  if (txn == nullptr) return;
  KeyRound& key = txn->keys[index];
  const bool was_reached = key.tally.Reached();
  if (!Count(*txn, key, from, promise.vote, promise.highest, promise.quarantine_left_ms)) {
    ++stats_.stale_replies;
    return;
  }
  if (promise.vote == Vote::kYes && !was_reached) {
    // As the single-key round: the highest accepted register wins; between
    // equals, the copy with more of its lease left.
    if (key.chosen_set && promise.accepted != key.chosen_ballot) key.agree = false;
    const bool better = !key.chosen_set || promise.accepted > key.chosen_ballot ||
                        (promise.accepted == key.chosen_ballot &&
                         promise.lease.remaining_ms > key.chosen.remaining_ms);
    if (better) {
      key.chosen_set = true;
      key.chosen_ballot = promise.accepted;
      key.chosen = promise.lease;
    }
    txn->counter_max = std::max(txn->counter_max, promise.token_counter);
  }
  if (!was_reached && key.tally.Reached() && ++txn->keys_reached == txn->keys.size()) {
    return Decide(txn_id, *txn, now, outbox);
  }
  if (key.tally.Impossible()) Retry(txn_id, *txn, now, outbox);
}

void TxnCoordinator::Decide(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox) {
  std::vector<LeaseView> leases;
  leases.reserve(txn.keys.size());
  for (const KeyRound& key : txn.keys) leases.push_back(key.chosen);
  const std::vector<TxnWrite> writes =
      txn.request.body(TxnView{txn.request.keys, leases, txn.counter_max, now.wall_ms});
  CHECK(writes.size() == txn.keys.size());
  txn.phase = Phase::kAccept;
  txn.keys_reached = 0;
  txn.keys_writing = 0;
  for (size_t i = 0; i < txn.keys.size(); ++i) {
    KeyRound& key = txn.keys[i];
    const TxnWrite& write = writes[i];
    Accept accept{txn_id | i, txn.request.keys[i], txn.ballot, false, {}, 0, 0};
    if (write.write) {
      accept.held = write.held;
      if (write.held) {
        CHECK(write.ttl_ms > 0 && write.token > 0);
        accept.owner = write.owner;
        accept.token = write.token;
        accept.ttl_ms = write.ttl_ms;
      }
      key.grants = write.held && write.grants;
    } else if (!key.agree) {
      // Read, not written, and the register read may not be chosen yet:
      // write it back at this ballot so that no later round can choose
      // something older than what the body saw.
      ++stats_.written_back;
      const int64_t ttl_ms =
          key.chosen.held ? CarriedOverMs(key.chosen.remaining_ms, options_.drift, options_.max_lease_ms) : 0;
      if (ttl_ms > 0) {
        accept.held = true;
        accept.owner = key.chosen.owner;
        accept.token = key.chosen.token;
        accept.ttl_ms = ttl_ms;
      }
    } else {
      continue;
    }
    key.writing = true;
    key.accept = std::move(accept);
    key.tally = QuorumTally(options_.members_count);
    ++txn.keys_writing;
    for (MemberId member = 0; member < options_.members_count; ++member) {
      outbox->push_back({options_.self, member, key.accept});
    }
  }
  if (txn.keys_writing == 0) {
    ++stats_.read_only;
    Finish(txn_id, WriteOutcome::kDone, {});
  }
}

void TxnCoordinator::OnAccepted(MemberId from, const Accepted& accepted, Time now,
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
    return Completed(txn_id, *txn, now, outbox);
  }
  if (key.tally.Impossible()) {
    // Pre-empted while committing. Nothing can be retried: the body's
    // writes to other keys may already be chosen.
    if (txn->keys_reached > 0) ++stats_.torn;
    if (txn->quarantined && !txn->outvoted) {
      return Finish(txn_id, WriteOutcome::kTryAgain, Coordinator::QuarantineDetail(txn->quarantine_left_ms));
    }
    Finish(txn_id, WriteOutcome::kNoQuorum,
           "a rival write pre-empted the script's commit on key '" + txn->request.keys[index] +
               "'; its writes may have taken effect in part");
  }
}

void TxnCoordinator::Completed(uint64_t txn_id, Txn& txn, Time now,
                               std::vector<Message>* outbox) {
  for (const KeyRound& key : txn.keys) {
    if (key.writing && key.grants &&
        !LeaseStillValid(key.accept.ttl_ms, options_.drift, now.mono_ms - txn.sent_ms)) {
      return Finish(txn_id, WriteOutcome::kNoQuorum,
                    "a lease the script wrote ran out before a majority accepted it");
    }
  }
  for (const KeyRound& key : txn.keys) {
    if (!key.writing) continue;
    const Accept& accept = key.accept;
    for (MemberId member = 0; member < options_.members_count; ++member) {
      if (key.tally.SaidYes(member)) continue;
      outbox->push_back({options_.self, member,
                         Learn{accept.key, accept.ballot, accept.held, accept.owner, accept.token,
                               accept.ttl_ms}});
    }
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
  const int64_t window_ms = std::min<int64_t>(kBackoffCapMs, int64_t{4} << txn.attempt);
  const int64_t delay_ms = std::uniform_int_distribution<int64_t>(0, window_ms)(rng_);
  if (delay_ms == 0 || options_.members_count == 1) {
    Txn moved = std::move(txn);
    txns_.erase(txn_id);
    return StartAttempt(txn_id, std::move(moved), now, outbox);
  }
  txn.phase = Phase::kBackoff;
  txn.retry_at_ms = now.mono_ms + delay_ms;
}

void TxnCoordinator::Tick(Time now, std::vector<Message>* outbox) {
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
    if (txn.quarantined) {
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
         std::to_string(options_.members_count) + " members answered, " +
         std::to_string(worst->tally.yes_count()) + " agreed; a majority is " +
         std::to_string(MajorityOf(options_.members_count));
}

void TxnCoordinator::Finish(uint64_t txn_id, WriteOutcome outcome, std::string detail) {
  const auto it = txns_.find(txn_id);
  CHECK(it != txns_.end());
  const uint64_t request_id = it->second.request.request_id;
  txns_.erase(it);
  if (request_id != 0) results_.push_back({request_id, outcome, 0, 0, std::move(detail)});
}

void TxnCoordinator::TakeResults(std::vector<WriteResult>* out) {
  if (results_.empty()) return;
  out->insert(out->end(), std::make_move_iterator(results_.begin()),
              std::make_move_iterator(results_.end()));
  results_.clear();
}

}  // namespace lockerd::cluster
