// A peek (Prepare::peek): a read of one key from a majority that promises
// nothing, so it pre-empts no one. When a majority reports the same register
// (the same accepted ballot, holder and token), that state was chosen, and
// nothing was chosen after it before the peek began: a later choice was
// accepted by a majority, which shares a member with this one, and accepted
// ballots only grow. A decision from that register is as linearizable as a
// round's. The single-key coordinator refuses a LOCK from it
// (Coordinator::OnPeekReply), the transaction coordinator answers a one-key
// script that only reads (TxnCoordinator::OnPeekReply); anything else runs
// the full round.
//
// This file merges the replies and says when a peek is over, for both
// coordinators; what each does with the register agreed on is its own. It
// counts no votes (the caller's QuorumTally does) and sends nothing.
#pragma once

#include "cluster/ballot.h"
#include "cluster/messages.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {

// Merges one member's yes to a peek into the register read so far:
// `read_set` (a yes came before), the ballot its state was accepted at and
// its lease. The first yes sets them. A later one that reports another
// accepted ballot, holder or token changes nothing and returns false: the
// replies disagree, so no one state was seen. An agreeing one keeps the
// least time left reported, which every copy seen still has.
[[nodiscard]] bool MergePeekYes(const Promise& reply, bool* read_set, Ballot* read_ballot,
                                LeaseView* read);

enum class PeekStep {
  kWait,       // Agreeing so far, and a majority may yet agree.
  kAgreed,     // A majority reported the same register.
  kFullRound,  // The replies disagree, or too many said no: run the round.
};
// What a peek does after a reply was counted in `tally`; `agree`: no reply
// so far disagreed (MergePeekYes).
PeekStep NextPeekStep(bool agree, const QuorumTally& tally);

}  // namespace lockerd::cluster
