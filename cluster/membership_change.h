// What an operator may ask of the configuration (MEMBERS ADD, REMOVE,
// PROMOTE, DEMOTE), and the rule that keeps every change safe: a change
// adds or removes at most one voter, so that any majority of the old
// voters meets any majority of the new (CLUSTER-SAFETY.md, "Membership
// change"). The protocol that chooses, installs and settles a change lives
// in node_membership.cc; this file holds the pure rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cluster/membership.h"
#include "cluster/messages.h"

namespace lockerd::cluster {

struct MembershipRequest {
  enum class Kind : uint8_t {
    kAddVoter,    // A new member that votes at once.
    kAddLearner,  // A new member that only receives chosen values.
    kRemove,      // A voter or a learner leaves.
    kPromote,     // A learner becomes a voter.
    kDemote,      // A voter becomes a learner.
    kSettle,      // No change: settle the last one (after a coordinator died).
  };
  uint64_t request_id = 0;
  Kind kind = Kind::kSettle;
  MemberId member = 0;
};

// The configuration `request` makes of `current` (its epoch one higher), or
// nothing with `*why` saying why not (an error a client can read).
std::optional<Membership> ApplyMembershipRequest(const Membership& current,
                                                 const MembershipRequest& request, std::string* why);

// Whether `next` differs from `current` by at most one voter, and is
// well formed: the rule every chosen change keeps.
bool OneVoterApart(const Membership& current, const Membership& next);

}  // namespace lockerd::cluster
