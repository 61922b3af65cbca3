// A ballot orders the Paxos rounds for one key. It is a (round, member) pair so
// that two coordinators never pick the same ballot; the member id breaks ties.
#pragma once

#include <compare>
#include <cstdint>

namespace lockerd::cluster {

// A member's position in the cluster's member list (0 when running alone).
using MemberId = uint32_t;

struct Ballot {
  uint64_t round = 0;
  MemberId member = 0;
  // Zero for every ballot a round takes. A one-round-trip write from the
  // state accepted at ballot b uses b with step + 1: the ballot right after
  // b, with no other ballot between them (Coordinator::TryFastAttempt).
  uint32_t step = 0;

  friend auto operator<=>(const Ballot&, const Ballot&) = default;
  bool IsZero() const { return round == 0 && member == 0 && step == 0; }
  Ballot NextStep() const { return {round, member, step + 1}; }
};

}  // namespace lockerd::cluster
