// Majority arithmetic: how many members make a quorum, and a tally of one
// round's answers that counts each member once however often it replies.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "cluster/ballot.h"
#include "cluster/limits.h"

namespace lockerd::cluster {

inline constexpr size_t MajorityOf(size_t members_count) { return members_count / 2 + 1; }

// A round's tally counts the voters of the configuration the round runs
// under (membership.h): one bit per member, strangers ignored.
class QuorumTally {
 public:
  // One voter, member 0.
  QuorumTally() = default;
  // `voters`: one bit per member id (Membership::voters).
  static QuorumTally Of(uint32_t voters) {
    QuorumTally tally;
    tally.voters_ = voters;
    return tally;
  }

  // Returns false for a member that already answered (a duplicate), or one
  // that is not a voter.
  bool RecordYes(MemberId member) { return Record(member, &yes_mask_); }
  bool RecordNo(MemberId member) { return Record(member, &no_mask_); }

  bool SaidYes(MemberId member) const { return member < 32 && (yes_mask_ >> member) & 1; }
  size_t yes_count() const { return static_cast<size_t>(std::popcount(yes_mask_)); }
  size_t no_count() const { return static_cast<size_t>(std::popcount(no_mask_)); }
  size_t answered_count() const { return yes_count() + no_count(); }
  size_t members_count() const { return static_cast<size_t>(std::popcount(voters_)); }
  size_t majority() const { return MajorityOf(members_count()); }
  uint32_t voters() const { return voters_; }
  // Who answered what, one bit per member (for state digests).
  uint32_t yes_mask() const { return yes_mask_; }
  uint32_t no_mask() const { return no_mask_; }

  bool Reached() const { return yes_count() >= majority(); }
  // True once so many members said no that a majority of yes is impossible.
  bool Impossible() const { return members_count() - no_count() < majority(); }

 private:
  bool Record(MemberId member, uint32_t* mask) {
    if (member >= 32) return false;
    const uint32_t bit = uint32_t{1} << member;
    if ((voters_ & bit) == 0 || ((yes_mask_ | no_mask_) & bit)) return false;
    *mask |= bit;
    return true;
  }

  uint32_t voters_ = 1;
  uint32_t yes_mask_ = 0;
  uint32_t no_mask_ = 0;
};

static_assert(kMembersMax <= 32, "QuorumTally keeps one bit per member in a uint32_t");

}  // namespace lockerd::cluster
