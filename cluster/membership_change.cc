#include "cluster/membership_change.h"

#include <bit>

namespace lockerd::cluster {

bool OneVoterApart(const Membership& current, const Membership& next) {
  return next.Valid() && std::popcount(current.voters ^ next.voters) <= 1;
}

std::optional<Membership> ApplyMembershipRequest(const Membership& current,
                                                 const MembershipRequest& request, std::string* why) {
  using Kind = MembershipRequest::Kind;
  const MemberId member = request.member;
  Membership next = current;
  ++next.epoch;
  const uint32_t bit = member < kMembersMax ? uint32_t{1} << member : 0;
  if (request.kind != Kind::kSettle && bit == 0) {
    *why = "member id " + std::to_string(member) + " is out of range (at most " +
           std::to_string(kMembersMax) + " members)";
    return std::nullopt;
  }
  switch (request.kind) {
    case Kind::kAddVoter:
    case Kind::kAddLearner:
      if (current.IsMember(member)) {
        *why = "member " + std::to_string(member) + " is already a " +
               (current.IsVoter(member) ? "voter" : "learner");
        return std::nullopt;
      }
      (request.kind == Kind::kAddVoter ? next.voters : next.learners) |= bit;
      break;
    case Kind::kRemove:
      if (!current.IsMember(member)) {
        *why = "member " + std::to_string(member) + " is not a member";
        return std::nullopt;
      }
      if (current.voters == bit) {
        *why = "member " + std::to_string(member) + " is the last voter";
        return std::nullopt;
      }
      next.voters &= ~bit;
      next.learners &= ~bit;
      break;
    case Kind::kPromote:
      if (!current.IsLearner(member)) {
        *why = "member " + std::to_string(member) + " is not a learner";
        return std::nullopt;
      }
      next.learners &= ~bit;
      next.voters |= bit;
      break;
    case Kind::kDemote:
      if (!current.IsVoter(member)) {
        *why = "member " + std::to_string(member) + " is not a voter";
        return std::nullopt;
      }
      if (current.voters == bit) {
        *why = "member " + std::to_string(member) + " is the last voter";
        return std::nullopt;
      }
      next.voters &= ~bit;
      next.learners |= bit;
      break;
    case Kind::kSettle:
      *why = "nothing to change";
      return std::nullopt;
  }
  return next;
}

}  // namespace lockerd::cluster
