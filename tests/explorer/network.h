// The explored cluster's messages in flight, in the order they were sent.
// With FIFO links (lockerd's peers talk over TCP) only the oldest message
// of each link (sender, addressee) can arrive next, and a loss takes the
// rest of its link with it (the connection broke); without, any message can
// arrive next and a loss takes only itself.
//
// It holds and orders messages; it does not deliver them (the cluster
// does) and never reads a clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/messages.h"
#include "cluster/state_digest.h"

namespace lockerd::explorer {

struct Flight {
  cluster::Message message;
  uint64_t digest = 0;  // Of the message: sender, addressee, body, stamp.
  uint64_t seq = 0;     // Send order.
};

class Network {
 public:
  explicit Network(bool fifo_links) : fifo_links_(fifo_links) {}

  void Send(const cluster::Message& message);
  const std::vector<Flight>& flights() const { return flights_; }
  uint64_t next_seq() const { return next_seq_; }
  // Removes and returns message `index`.
  Flight Take(size_t index);
  // Whether message `index` may arrive next.
  bool Deliverable(size_t index) const;
  // Loses message `index` and, with FIFO links, the rest of its link.
  void Drop(size_t index);
  // Loses every message `lost` says is lost.
  template <typename Lost>
  void DropIf(Lost lost) {
    std::erase_if(flights_, [&lost](const Flight& flight) { return lost(flight.message); });
  }
  // The position of the oldest message on the link from -> to sent at or
  // after `seq`, or -1.
  int FindOnLink(cluster::MemberId from, cluster::MemberId to, uint64_t seq) const;

  // Send order itself is not part of the state: only each link's order
  // (FIFO), or the set of messages (any order).
  void Digest(cluster::StateDigest* digest) const;

 private:
  bool fifo_links_;
  std::vector<Flight> flights_;
  uint64_t next_seq_ = 1;
};

uint64_t DigestMessage(const cluster::Message& message);
std::string DescribeMessage(const cluster::Message& message);
// Whether the addressee answers `message` to its sender at once (a Prepare,
// Accept, Probe, SyncRequest, ConfigurationQuery, ConfigPrepare,
// ConfigAccept or RaiseFloors; not a CatchUp, answered once the member's
// writes are done).
bool ExpectsReply(const cluster::Message& message);

}  // namespace lockerd::explorer
