// The register a full round reads from its promises, merged one yes at a
// time, for both coordinators (single-key rounds and transactions): the
// state accepted at the highest ballot wins (Paxos's rule: a value a
// majority may have chosen is carried on); between copies accepted at the
// same ballot, the one with more of its lease left.
#pragma once

#include "cluster/ballot.h"
#include "cluster/messages.h"

namespace lockerd::cluster {

// Merges one member's yes into the register read so far: `read_set` (a yes
// came before), the ballot its state was accepted at, and its lease.
// Returns false when the reply reports another accepted ballot than the
// register read so far (the copies disagree: a transaction must then write
// back what it read), true otherwise.
bool MergePromiseYes(const Promise& reply, bool* read_set, Ballot* read_ballot, LeaseView* read);

}  // namespace lockerd::cluster
