#include "cluster/decision.h"

#include <algorithm>

#include "base/check.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"

namespace lockerd::cluster {

Decision DecideWrite(const DecisionInput& input) {
  const WriteRequest& request = input.request;
  const LeaseView& lease = input.chosen;
  const bool live = lease.held;  // The member's own judgement, on its clock.
  const bool mine = live && lease.owner == request.owner;
  // A renewal never shortens the lease (see CarriedOverMs).
  const int64_t kept_ms = CarriedOverMs(lease.remaining_ms, input.drift, input.max_lease_ms);
  Decision decision;
  const auto commit = [&decision](bool held, std::string_view owner, uint64_t token, int64_t ttl_ms) {
    decision.kind = Decision::Kind::kCommit;
    decision.held = held;
    decision.owner.assign(owner);
    decision.token = token;
    decision.ttl_ms = ttl_ms;
    if (held) CHECK(ttl_ms > 0);
    return decision;
  };
  switch (request.op) {
    case WriteOp::kLock:
      if (live && (!mine || request.only_if_free)) {
        decision.holder_token = lease.token;
        decision.holder_remaining_ms = lease.remaining_ms;
        return decision;
      }
      if (mine) {  // Idempotent acquire: same token, lease renewed.
        return commit(true, request.owner, lease.token, std::max(request.ttl_ms, kept_ms));
      } else {
        const uint64_t token = NextToken(input.counter_max, input.wall_ms);
        CHECK(token > input.counter_max);
        return commit(true, request.owner, token, request.ttl_ms);
      }
    case WriteOp::kExtend:
      if (!mine) return decision;
      return commit(true, request.owner, lease.token, std::max(request.ttl_ms, kept_ms));
    case WriteOp::kUpdate:
      if (!mine) return decision;
      return commit(true, request.new_owner, lease.token, kept_ms);
    case WriteOp::kSwap:
      if (!mine) return decision;
      return commit(true, request.new_owner, lease.token,
                    request.ttl_ms > 0 ? std::max(request.ttl_ms, kept_ms) : kept_ms);
    case WriteOp::kRelease:
      if (!mine) return decision;
      return commit(false, {}, 0, 0);
    case WriteOp::kDelete:
      if (!live) return decision;
      return commit(false, {}, 0, 0);
    case WriteOp::kCarry:
      return decision;  // The coordinator carries on what it found (CarryOn).
    case WriteOp::kRollback:
      // Above the failed grant's ballot, a later write has decided the key
      // (maybe renewing the same owner and token): leave it. At that ballot
      // the failed grant is what the members report: free it. Below it, the
      // grant is on a minority at most; committing "free" at a higher ballot
      // keeps any later round from ever choosing it.
      if (input.chosen_ballot > request.rollback_ballot) {
        decision.kind = Decision::Kind::kNothing;
        return decision;
      }
      return commit(false, {}, 0, 0);
  }
  return decision;
}

}  // namespace lockerd::cluster
