#include "cluster/peek.h"

#include <algorithm>

namespace lockerd::cluster {

bool MergePeekYes(const Promise& reply, bool* read_set, Ballot* read_ballot, LeaseView* read) {
  const LeaseView& lease = reply.lease;
  if (!*read_set) {
    *read_set = true;
    *read_ballot = reply.accepted;
    *read = lease;
    return true;
  }
  if (reply.accepted != *read_ballot || lease.held != read->held || lease.owner != read->owner ||
      lease.token != read->token) {
    return false;
  }
  read->remaining_ms = std::min(read->remaining_ms, lease.remaining_ms);
  return true;
}

PeekStep NextPeekStep(bool agree, const QuorumTally& tally) {
  if (!agree) return PeekStep::kFullRound;
  if (tally.Reached()) return PeekStep::kAgreed;
  return tally.Impossible() ? PeekStep::kFullRound : PeekStep::kWait;
}

}  // namespace lockerd::cluster
