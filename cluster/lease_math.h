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

// δ of CLUSTER-SAFETY.md: the clocks' granularity. A server reads its clock
// once per loop turn, in whole milliseconds, so a reading can trail the
// instant it stands for by a millisecond and the rest of the turn.
inline constexpr int64_t kClockGranularityMs = 2;

// A round's validity with δ: V = ttl * (1 - drift) - elapsed - δ > 0.
// Elapsed time between two loop-turn readings can be under-counted by δ.
inline bool RoundLeaseStillValid(int64_t ttl_ms, double drift, int64_t elapsed_ms) {
  return LeaseStillValid(ttl_ms, drift, elapsed_ms + kClockGranularityMs);
}

// What a read (PTTL, TTL, LOCKINFO) reports of a lease with `remaining_ms`
// left on this member's clock: what its holder may count on, never more.
// The holder counts on ttl * (1 - drift) from before this member started
// its copy, less δ; a copy's time left is at most the ttl asked (a renewal
// carries over at most what its lease had, stretched by the drift), so the
// report never exceeds the ttl asked either.
inline int64_t ReportedRemainingMs(int64_t remaining_ms, double drift) {
  const auto trusted = static_cast<int64_t>(std::floor(static_cast<double>(remaining_ms) * (1.0 - drift)));
  return std::max<int64_t>(0, trusted - kClockGranularityMs);
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
// (coordinator_fast_write.cc, TryFastAttempt) only while that copy has more than this
// left: the other members started their copies no earlier, but a clock
// faster by the drift allowance ends a copy of a lease of up to
// max-lease-ms up to drift * max-lease-ms sooner; 5 ms more cover the
// clocks' granularity.
inline int64_t FastWriteMarginMs(double drift, int64_t max_lease_ms) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(max_lease_ms) * drift)) + 5;
}

// max-lease-ms stretched by the drift allowance: every lease a member
// applied has ended on every member's clock this long after.
inline int64_t QuarantineMs(int64_t max_lease_ms, double drift) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(max_lease_ms) * (1.0 + drift)));
}

// L of CLUSTER-SAFETY.md: a member applies no Accept or Learn older than
// this (message_clocks.h bounds a message's age). A round gives up after
// its round timeout, so an older commit is of no use to anyone.
inline int64_t MessageAgeMaxMs(int64_t round_timeout_ms) { return round_timeout_ms; }

// S of CLUSTER-SAFETY.md ("How long an older state can live"): once a state
// at ballot b has been accepted anywhere, every copy of any state at a
// ballot below b has ended on every member within this long. Such a copy
// comes from a round that began before b was promised (its commits are
// sent within a round timeout and applied within L), or from a
// one-round-trip write capped to end within max-lease-ms of its base
// (coordinator_fast_write.cc), and lives at most max-lease-ms, stretched by the
// drift. A free register (tombstone) is kept this long, and a member that
// lost its memory does not vote for this long, so that no older copy can
// outlive the state that superseded it.
inline int64_t StaleStateLifeMs(int64_t max_lease_ms, double drift, int64_t round_timeout_ms) {
  const int64_t span_ms = max_lease_ms + round_timeout_ms + MessageAgeMaxMs(round_timeout_ms);
  return static_cast<int64_t>(std::ceil(static_cast<double>(span_ms) * (1.0 + drift))) +
         kClockGranularityMs;
}

}  // namespace lockerd::cluster
