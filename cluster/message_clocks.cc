#include "cluster/message_clocks.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace lockerd::cluster {

MessageClocks::MessageClocks(MemberId self, uint64_t incarnation, double drift,
                             int64_t probe_interval_ms)
    : self_(self),
      incarnation_(incarnation),
      drift_(drift),
      probe_interval_ms_(probe_interval_ms),
      peers_(kMembersMax) {
  CHECK(incarnation_ != 0);
  CHECK(drift_ >= 0.0 && drift_ < 0.5);
}

Stamp MessageClocks::StampFor(MemberId to, int64_t now_ms) const {
  const Peer& peer = peers_[to];
  return {incarnation_, now_ms, peer.echo_incarnation, peer.echo_ms};
}

// The floor F held at the reading u when the peer stamped the bounding
// message, u somewhere in [from, at]; at another reading t it is worth
// F - rho * |t - u| >= F - rho * (|t - at| + (at - from)).
double MessageClocks::FloorAt(int64_t offset_floor_ms, int64_t from_ms, int64_t at_ms,
                              int64_t now_ms) const {
  const double span = static_cast<double>(std::llabs(now_ms - at_ms) + (at_ms - from_ms));
  return static_cast<double>(offset_floor_ms) - drift_ * span;
}

int64_t MessageClocks::AgeBound(int64_t sent_ms, int64_t offset_floor_ms, int64_t from_ms,
                                int64_t at_ms, int64_t now_ms) const {
  // True age a = now - sent - d(v) at the reading v = now - a of the
  // sending, with d(v) >= F - rho * (|v - at| + (at - from)) and
  // |v - at| <= |now - at| + a: so
  // a <= (now - sent - F + rho * (|now - at| + (at - from))) / (1 - rho).
  const double slack = drift_ * static_cast<double>(std::llabs(now_ms - at_ms) + (at_ms - from_ms));
  const double bound =
      (static_cast<double>(now_ms - sent_ms - offset_floor_ms) + slack) / (1.0 - drift_);
  return std::max<int64_t>(0, static_cast<int64_t>(std::ceil(bound)));
}

std::optional<int64_t> MessageClocks::Receive(MemberId from, const Stamp& stamp, int64_t now_ms) {
  if (from >= peers_.size() || from == self_ || stamp.incarnation == 0) return std::nullopt;
  Peer& peer = peers_[from];
  if (stamp.incarnation != peer.echo_incarnation) {
    peer.echo_incarnation = stamp.incarnation;
    peer.echo_ms = stamp.sent_ms;
  } else {
    peer.echo_ms = std::max(peer.echo_ms, stamp.sent_ms);
  }
  std::optional<int64_t> age;
  if (peer.bound_incarnation == stamp.incarnation) {
    age = AgeBound(stamp.sent_ms, peer.offset_floor_ms, peer.bound_from_ms, peer.bound_at_ms, now_ms);
  }
  // The message's own echo, when it is of this run and not from the future.
  if (stamp.echo_incarnation == incarnation_ && stamp.echo_ms <= now_ms) {
    const int64_t floor_ms = stamp.echo_ms - stamp.sent_ms;
    const int64_t own = AgeBound(stamp.sent_ms, floor_ms, stamp.echo_ms, now_ms, now_ms);
    age = age ? std::min(*age, own) : own;
    // Keep it if it is worth at least as much now as the bound kept.
    const bool stronger =
        peer.bound_incarnation != stamp.incarnation ||
        FloorAt(floor_ms, stamp.echo_ms, now_ms, now_ms) >=
            FloorAt(peer.offset_floor_ms, peer.bound_from_ms, peer.bound_at_ms, now_ms);
    if (stronger) {
      peer.bound_incarnation = stamp.incarnation;
      peer.offset_floor_ms = floor_ms;
      peer.bound_from_ms = stamp.echo_ms;
      peer.bound_at_ms = now_ms;
    }
  }
  return age;
}

bool MessageClocks::ProbeDue(MemberId peer_id, int64_t now_ms) const {
  if (peer_id == self_ || peer_id >= peers_.size()) return false;
  const Peer& peer = peers_[peer_id];
  if (peer.probe_soon) return true;
  const bool stale = peer.bound_incarnation == 0 || now_ms - peer.bound_at_ms >= probe_interval_ms_;
  return stale && now_ms >= peer.next_probe_ms;
}

void MessageClocks::ProbeSent(MemberId peer, int64_t now_ms) {
  peers_[peer].next_probe_ms = now_ms + probe_interval_ms_;
  peers_[peer].probe_soon = false;
}

void MessageClocks::ProbeSoon(MemberId peer) {
  if (peer < peers_.size() && peer != self_) peers_[peer].probe_soon = true;
}

std::optional<int64_t> MessageClocks::NextProbeMs(uint32_t members) const {
  std::optional<int64_t> next;
  for (MemberId id = 0; id < peers_.size(); ++id) {
    if (id == self_ || !Membership::Has(members, id)) continue;
    const Peer& peer = peers_[id];
    // Due when the bound turns stale, not before the last probe's interval.
    const int64_t stale_ms = peer.bound_incarnation == 0 ? 0 : peer.bound_at_ms + probe_interval_ms_;
    // (Clock readings are never negative: 0 is "at once".)
    const int64_t due_ms = peer.probe_soon ? 0 : std::max(stale_ms, peer.next_probe_ms);
    if (!next || due_ms < *next) next = due_ms;
  }
  return next;
}

}  // namespace lockerd::cluster
