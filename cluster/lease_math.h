// Lease arithmetic shared by the coordinator and the docs: how long a lease is
// still worth something to its holder.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace lockerd::cluster {

// The part of a ttl a holder may rely on: ttl * (1 - drift), rounded down.
inline int64_t TrustedTtlMs(int64_t ttl_ms, double drift) {
  return static_cast<int64_t>(std::floor(static_cast<double>(ttl_ms) * (1.0 - drift)));
}

// Validity V = ttl * (1 - drift) - elapsed: what is left of a lease when the
// round that granted it completes, `elapsed_ms` after the promises were sent.
// A write that grants or extends a lease succeeds only while V > 0. When the
// round was answered within the same instant (a member alone), nothing has
// elapsed and V is the trusted part of the ttl; a ttl of 1 ms is then still
// worth 0.99 ms, so the test is on the unrounded value.
inline bool LeaseStillValid(int64_t ttl_ms, double drift, int64_t elapsed_ms) {
  return static_cast<double>(ttl_ms) * (1.0 - drift) - static_cast<double>(elapsed_ms) > 0.0;
}

// What a renewal (EXTEND, LOCK by the holder, UPDATE) must carry over of a
// lease's time left: `remaining_ms` as one member's clock measured it, to be
// applied on other members' clocks, later. Stretching it by the drift
// allowance (clocks differ in rate by at most rho) and a millisecond of
// granularity keeps every copy lasting at least as long as the one it came
// from, so a renewal that reaches only some members never leaves a copy
// shorter than the holder's deadline for a later round to choose. It is
// capped at max-lease-ms, which already covers any holder's deadline (a
// holder counts on at most ttl <= max-lease-ms from before the renewal), so
// frequent renewals do not stretch a lease without end.
inline int64_t CarriedOverMs(int64_t remaining_ms, double drift, int64_t max_lease_ms) {
  const auto stretched =
      static_cast<int64_t>(std::ceil(static_cast<double>(remaining_ms) * (1.0 + drift))) + 1;
  return std::min(stretched, max_lease_ms);
}

// A one-round-trip write decides from this member's copy of a lease
// (coordinator.cc, TryFastAttempt) only while that copy has more than this
// left: the other members started their copies no earlier, but a clock
// faster by the drift allowance ends a copy of a lease of up to
// max-lease-ms up to drift * max-lease-ms sooner; 5 ms more cover the
// clocks' granularity.
inline int64_t FastWriteMarginMs(double drift, int64_t max_lease_ms) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(max_lease_ms) * drift)) + 5;
}

// A member that restarted without its state must not vote until every lease
// it may have granted has expired everywhere: max-lease-ms stretched by the
// drift allowance.
inline int64_t QuarantineMs(int64_t max_lease_ms, double drift) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(max_lease_ms) * (1.0 + drift)));
}

}  // namespace lockerd::cluster
