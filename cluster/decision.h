// What a write does to a key, given the key's state as a majority reported
// it (the register with the highest accepted ballot): refuse, do nothing, or
// commit a new state. This is step 2 of CLUSTER-SAFETY.md, in one pure
// function, so that the coordinator's round and a member alone (which is
// its own majority) decide exactly alike.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/ballot.h"
#include "cluster/messages.h"
#include "cluster/write_request.h"

namespace lockerd::cluster {

struct DecisionInput {
  const WriteRequest& request;
  const LeaseView& chosen;  // The lease as the member(s) see it.
  Ballot chosen_ballot;     // The ballot it was accepted at.
  uint64_t counter_max;     // The largest token counter reported.
  int64_t wall_ms;          // For the token floor.
  double drift;
  int64_t max_lease_ms;
};

struct Decision {
  enum class Kind { kRefuse, kNothing, kCommit } kind = Kind::kRefuse;
  // kCommit: the new state.
  bool held = false;
  std::string owner;
  uint64_t token = 0;
  int64_t ttl_ms = 0;
  Ballot carry_from;  // A write-back of the state found at this ballot (Accept::carry_from).
  // kRefuse of a LOCK: the holder's lease (for waiters).
  uint64_t holder_token = 0;
  int64_t holder_remaining_ms = 0;
};

Decision DecideWrite(const DecisionInput& input);

}  // namespace lockerd::cluster
