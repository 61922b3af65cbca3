#include "cluster/recovery_sync.h"

#include <bit>

#include "base/check.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {

RecoverySync::RecoverySync(uint32_t voters, MemberId self, uint64_t run_id, int64_t delay_ms,
                           int64_t retry_ms, BrokenRules broken)
    : others_(voters & ~(uint32_t{1} << self)),
      self_(self),
      run_id_(run_id),
      delay_ms_(delay_ms),
      retry_ms_(retry_ms),
      broken_(broken) {
}

void RecoverySync::Begin(int64_t now_ms, Kind kind) {
  recovering_ = others_ != 0;
  kind_ = kind;
  // Unique to this run and this recovery, and within the peer codecs'
  // range (0..2^63-1).
  nonce_ = ((run_id_ << kRunShift) + ++begun_) & kNonceMask;
  requests_sent_ = false;
  answered_mask_ = 0;
  recovering_mask_ = 0;
  knowing_mask_ = 0;
  unvoted_runs_ = {};
  history_seen_ = false;
  hopeless_ = false;
  began_ms_ = now_ms;
  next_request_ms_ = now_ms + delay_ms_;
}

bool RecoverySync::FirstStartOverdue(int64_t now_ms) const {
  constexpr int64_t kRequestRounds = 5;
  return recovering_ && kind_ == Kind::kFirstStart &&
         now_ms >= began_ms_ + delay_ms_ + kRequestRounds * retry_ms_;
}

std::optional<int64_t> RecoverySync::NextWakeMs() const {
  if (!recovering_) return std::nullopt;
  return next_request_ms_;
}

bool RecoverySync::OnReply(MemberId from, const SyncReply& reply) {
  if (!recovering_ || !requests_sent_ || reply.nonce != nonce_ || from == self_ ||
      !Membership::Has(others_, from)) {
    return false;
  }
  const uint32_t bit = uint32_t{1} << from;
  if (reply.recovering) {
    // Its last word counts: a member that recovered since answers again.
    answered_mask_ &= ~bit;
    recovering_mask_ |= bit;
    const auto others = static_cast<size_t>(std::popcount(others_));
    if (others - static_cast<size_t>(std::popcount(recovering_mask_)) < MajorityOf(others)) hopeless_ = true;
    return false;
  }
  if (kind_ == Kind::kLostMemory && reply.undecided && !broken_.recovery_counts_undecided) {
    // The empty answer of a member checking whether the cluster is new:
    // it may have lost its disk too, and with it a vote this recovery must
    // learn of (two memories lost at once in five: the token of a lease
    // chosen on both and a third member). It counts once it has decided.
    return false;
  }
  recovering_mask_ &= ~bit;
  answered_mask_ |= bit;
  if (!reply.pristine && !reply.vouched) history_seen_ = true;
  if (reply.vouched || (reply.pristine && (!reply.undecided || broken_.first_start_counts_undecided))) {
    knowing_mask_ |= bit;
  } else {
    knowing_mask_ &= ~bit;
  }
  unvoted_runs_[from] = reply.pristine ? reply.run : 0;
  return true;
}

bool RecoverySync::Complete() const {
  const auto others = static_cast<size_t>(std::popcount(others_));
  const auto answered = static_cast<size_t>(std::popcount(answered_mask_));
  if (answered < MajorityOf(others)) return false;
  if (kind_ != Kind::kFirstStart || history_seen_) return true;
  return static_cast<size_t>(std::popcount(knowing_mask_)) >= MajorityOf(others) || answered == others;
}

std::array<uint64_t, kMembersMax> RecoverySync::UnvotedRuns() const {
  std::array<uint64_t, kMembersMax> runs{};
  ForEachMember(answered_mask_, [&](MemberId member) { runs[member] = unvoted_runs_[member]; });
  return runs;
}

size_t RecoverySync::answered_count() const { return static_cast<size_t>(std::popcount(answered_mask_)); }
size_t RecoverySync::recovering_count() const { return static_cast<size_t>(std::popcount(recovering_mask_)); }

}  // namespace lockerd::cluster
