// TxnCoordinator: a commit pre-empted by a rival's higher ballot. The body
// cannot simply run again, since its writes may have taken effect (see
// Txn::confirming): the retry reads every key again and tells whether
// nothing of the body's took effect (it runs again), all of it did (its
// reply stands), or neither (the client hears the outcome is unknown).
// Retrying and finishing are txn_coordinator.cc's.
#include <algorithm>
#include <string>
#include <vector>

#include "cluster/limits.h"
#include "cluster/txn_coordinator.h"

namespace lockerd::cluster {

void TxnCoordinator::CommitPreEmpted(uint64_t txn_id, Txn& txn, size_t index, Time now,
                                     std::vector<Message>* outbox) {
  // Pre-empted while committing. The body cannot simply run again: its
  // writes may be in effect (carried on by the rival, or chosen on other
  // keys). When they are all new leases, a retry can tell (see Txn).
  const bool body_wrote = std::any_of(txn.keys.begin(), txn.keys.end(),
                                      [](const KeyRound& k) { return k.body_wrote; });
  // -TRYAGAIN says nothing happened; with a body's write out, it may have.
  if (txn.quarantined && !txn.outvoted && !body_wrote && !txn.confirming) {
    return Finish(txn_id, WriteOutcome::kTryAgain, Coordinator::QuarantineDetail(txn.quarantine_left_ms));
  }
  if (!body_wrote && !txn.confirming) {
    // Only reads were written back: running the body again is safe.
    return Retry(txn_id, txn, now, outbox);
  }
  if (!txn.confirming && txn.attempt + 1 < kRoundAttemptsMax) {
    txn.confirming = true;
    txn.pre_empted.assign(txn.keys.size(), PreEmpted{});
    for (size_t i = 0; i < txn.keys.size(); ++i) {
      const KeyRound& k = txn.keys[i];
      PreEmpted& pre = txn.pre_empted[i];
      pre.read_ballot = k.chosen_ballot;
      pre.read = k.chosen;
      if (!k.body_wrote) continue;
      pre.sent = k.accept;
      if (k.accept.held) {
        pre.kind = k.new_lease ? WriteKind::kNewLease : WriteKind::kSameToken;
      } else if (k.chosen.held) {
        pre.kind = WriteKind::kFree;
        pre.lease_floor_ms =
            txn.sent_ms + static_cast<int64_t>(static_cast<double>(k.chosen.remaining_ms) *
                                               (1.0 - options_.drift));
      }
    }
    txn.pre_empted_sent_ms = txn.sent_ms;
    return Retry(txn_id, txn, now, outbox);
  }
  if (txn.keys_reached > 0) ++stats_.torn;
  Finish(txn_id, WriteOutcome::kNoQuorum,
         "a rival write pre-empted the script's commit on key '" + txn.request.keys[index] +
             "'; its writes may have taken effect in part");
}

bool TxnCoordinator::NothingChangedSincePreEmptedRead(const Txn& txn) const {
  for (size_t i = 0; i < txn.keys.size(); ++i) {
    const PreEmpted& pre = txn.pre_empted[i];
    const KeyRound& key = txn.keys[i];
    // The highest accepted ballot of a majority: had anything been chosen
    // since the read (the body's write carried on included), it would show.
    if (key.chosen_ballot != pre.read_ballot || key.chosen.held != pre.read.held ||
        key.chosen.owner != pre.read.owner || key.chosen.token != pre.read.token) {
      return false;
    }
  }
  return true;
}

bool TxnCoordinator::FoundPreEmptedWrites(const Txn& txn, Time now) const {
  for (size_t i = 0; i < txn.keys.size(); ++i) {
    const PreEmpted& pre = txn.pre_empted[i];
    const LeaseView& found = txn.keys[i].chosen;
    switch (pre.kind) {
      case WriteKind::kNone:
        break;
      case WriteKind::kNewLease:
      case WriteKind::kSameToken:
        // Only this write made that owner hold that token (a renewal found
        // unrenewed is renewed again below).
        if (!found.held || found.owner != pre.sent.owner || found.token != pre.sent.token) return false;
        break;
      case WriteKind::kFree:
        // As a RELEASE's retry (Coordinator::EarlierAttemptReleased): before
        // the lease could have run out, only this write (or another that
        // ended it on purpose) can have ended it.
        if (now.mono_ms >= pre.lease_floor_ms) return false;
        if (found.held && (found.token <= pre.read.token)) return false;
        break;
    }
  }
  return true;
}

}  // namespace lockerd::cluster
