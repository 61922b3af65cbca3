#include "cluster/recovery_sync.h"

#include <bit>

#include "cluster/check.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {

RecoverySync::RecoverySync(size_t members_count, MemberId self, int64_t delay_ms, int64_t retry_ms)
    : members_count_(members_count), self_(self), delay_ms_(delay_ms), retry_ms_(retry_ms) {
  CHECK(members_count_ <= kMembersMax);
}

void RecoverySync::Begin(int64_t now_ms) {
  recovering_ = members_count_ > 1;
  ++nonce_;
  answered_mask_ = 0;
  recovering_mask_ = 0;
  next_request_ms_ = now_ms + delay_ms_;
}

std::optional<int64_t> RecoverySync::NextWakeMs() const {
  if (!recovering_) return std::nullopt;
  return next_request_ms_;
}

bool RecoverySync::OnReply(MemberId from, const SyncReply& reply) {
  if (!recovering_ || reply.nonce != nonce_ || from == self_ || from >= members_count_) return false;
  const uint32_t bit = uint32_t{1} << from;
  if (reply.recovering) {
    // Its last word counts: a member that recovered since answers again.
    answered_mask_ &= ~bit;
    recovering_mask_ |= bit;
    return false;
  }
  recovering_mask_ &= ~bit;
  answered_mask_ |= bit;
  return true;
}

bool RecoverySync::Complete() const {
  return static_cast<size_t>(std::popcount(answered_mask_)) >= MajorityOf(members_count_ - 1);
}

bool RecoverySync::Hopeless() const {
  const size_t others = members_count_ - 1;
  return others - static_cast<size_t>(std::popcount(recovering_mask_)) < MajorityOf(others);
}

size_t RecoverySync::answered_count() const { return static_cast<size_t>(std::popcount(answered_mask_)); }
size_t RecoverySync::recovering_count() const { return static_cast<size_t>(std::popcount(recovering_mask_)); }

}  // namespace lockerd::cluster
