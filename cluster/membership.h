// Who is in the cluster: a numbered configuration of voters (whose
// majorities choose values) and learners (which receive every chosen value
// but never vote), with an epoch that only grows (CLUSTER-SAFETY.md,
// "Membership change"). A member is named by a MemberId that stays its own
// while it is in the cluster; ids are bits of a mask, so at most kMembersMax.
//
// Every message carries the epoch of the configuration it was sent under,
// and a member refuses to vote for a configuration older than the one it
// has adopted (Node::Handle): once a majority of a configuration's voters
// has adopted the next, no round of the older one can gather a majority.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "cluster/ballot.h"
#include "cluster/limits.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {

struct Membership {
  // 0: a member that joins knows no configuration yet (its voters are the
  // members it may ask); it coordinates nothing until it adopts one.
  uint64_t epoch = 1;
  uint32_t voters = 1;    // One bit per MemberId.
  uint32_t learners = 0;  // Never also voters.

  // The configuration a cluster started from a member list of `count`
  // members has: ids 0..count-1, all voters, epoch 1.
  static Membership Initial(size_t count) {
    Membership membership;
    membership.voters = count >= 32 ? ~uint32_t{0} : (uint32_t{1} << count) - 1;
    return membership;
  }

  uint32_t members() const { return voters | learners; }
  static bool Has(uint32_t mask, MemberId member) { return member < 32 && (mask >> member) & 1; }
  bool IsVoter(MemberId member) const { return Has(voters, member); }
  bool IsLearner(MemberId member) const { return Has(learners, member); }
  bool IsMember(MemberId member) const { return Has(members(), member); }
  size_t voter_count() const { return static_cast<size_t>(std::popcount(voters)); }
  size_t majority() const { return MajorityOf(voter_count()); }
  // The only voter is `self` and nobody else needs to hear of its writes:
  // it decides against its own registers, without messages.
  bool Alone(MemberId self) const { return voters == (uint32_t{1} << self) && learners == 0; }
  // Well formed: at least one voter, no id in both sets, ids below kMembersMax.
  bool Valid() const {
    return voters != 0 && (voters & learners) == 0 && (members() >> kMembersMax) == 0;
  }

  bool operator==(const Membership&) const = default;
};

// Calls `visit(member)` for each member of `mask`, in id order.
template <typename Visit>
void ForEachMember(uint32_t mask, Visit&& visit) {
  while (mask != 0) {
    const MemberId member = static_cast<MemberId>(std::countr_zero(mask));
    mask &= mask - 1;
    visit(member);
  }
}

}  // namespace lockerd::cluster
