// How old a message from a peer may be, bounded without trusting that the
// members' clocks agree (CLUSTER-SAFETY.md, "Late messages"). A member
// applies no Accept or Learn older than L; this is how it knows.
//
// Every message a member sends to a peer carries a stamp: its monotonic
// reading when it sent, and the latest reading it had received from that
// peer (the echo). When member R receives from P a message stamped s that
// echoes R's reading e, R's clock read at least e at the instant P stamped
// s (R sent e before P received it, and P received it before sending), so
// the offset d = (R's clock - P's clock) was at least e - s then. Clock
// rates differ by at most the drift allowance rho, so the bound loosens by
// rho per millisecond away from that instant. A message P stamped s' and R
// receives at r is then at most r - s' - d old. The bound is as tight as
// the exchange that gave it was quick: a commit that follows this member's
// promise is bounded by the time since the promise; a quiet link is probed
// (see ProbeDue).
//
// A member's clock restarts from another origin when its process does, so
// bounds are kept per run of the peer (its incarnation). A message from a
// run this member has no bound for is of unknown age.
//
// Pure: no clock is read here, time is passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cluster/ballot.h"
#include "cluster/messages.h"
#include "cluster/state_digest.h"

namespace lockerd::cluster {

class MessageClocks {
 public:
  MessageClocks(MemberId self, uint64_t incarnation, double drift,
                int64_t probe_interval_ms);

  uint64_t incarnation() const { return incarnation_; }
  // Adds every field to `digest` (node_digest.cc).
  void Digest(StateDigest* digest) const;

  // The stamp of a message to `to`, sent now.
  Stamp StampFor(MemberId to, int64_t now_ms) const;

  // Notes a message from `from` received now. Returns an upper bound on
  // its age in this member's milliseconds, or nothing when no bound is
  // known (no exchange yet with that run of the peer).
  std::optional<int64_t> Receive(MemberId from, const Stamp& stamp, int64_t now_ms);

  // A peer whose bound is older than the probe interval is sent a Probe,
  // at most once an interval; its reply bounds its clock again.
  bool ProbeDue(MemberId peer, int64_t now_ms) const;
  void ProbeSent(MemberId peer, int64_t now_ms);
  // Probes `peer` at the next chance, however fresh its bound: its link
  // just came up (it may be a new run), or one of its commits was of
  // unknown age.
  void ProbeSoon(MemberId peer);
  // The earliest probe due to one of `members` (one bit per member).
  std::optional<int64_t> NextProbeMs(uint32_t members) const;

 private:
  struct Peer {
    // The latest stamp received from the peer, echoed back to it.
    uint64_t echo_incarnation = 0;
    int64_t echo_ms = 0;
    // This member's clock minus the peer's (run `bound_incarnation`) was at
    // least `offset_floor_ms` at the instant the peer stamped the message
    // that gave the bound: some time after this member sent what it echoed
    // (its reading `bound_from_ms`) and before this member received it
    // (`bound_at_ms`).
    uint64_t bound_incarnation = 0;
    int64_t offset_floor_ms = 0;
    int64_t bound_from_ms = 0;
    int64_t bound_at_ms = 0;
    int64_t next_probe_ms = 0;
    bool probe_soon = false;
  };
  // Age bound of a message stamped `sent_ms` from an offset floor that held
  // at some reading in [from_ms, at_ms], judged at `now_ms`.
  int64_t AgeBound(int64_t sent_ms, int64_t offset_floor_ms, int64_t from_ms, int64_t at_ms,
                   int64_t now_ms) const;
  // What a floor is worth at `now_ms`: the floor, less the drift over the
  // longest time since it held.
  double FloorAt(int64_t offset_floor_ms, int64_t from_ms, int64_t at_ms, int64_t now_ms) const;

  MemberId self_;
  uint64_t incarnation_;
  double drift_;
  int64_t probe_interval_ms_;
  std::vector<Peer> peers_;
};

}  // namespace lockerd::cluster
