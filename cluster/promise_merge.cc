#include "cluster/promise_merge.h"

namespace lockerd::cluster {

bool MergePromiseYes(const Promise& reply, bool* read_set, Ballot* read_ballot, LeaseView* read) {
  const bool agrees = !*read_set || reply.accepted == *read_ballot;
  const bool better = !*read_set || reply.accepted > *read_ballot ||
                      (reply.accepted == *read_ballot &&
                       reply.lease.remaining_ms > read->remaining_ms);
  if (better) {
    *read_set = true;
    *read_ballot = reply.accepted;
    *read = reply.lease;
  }
  return agrees;
}

}  // namespace lockerd::cluster
