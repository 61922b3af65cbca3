// Bounds and defaults of the cluster rules. Each default is a setting's
// default; the settings are validated at startup.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockerd::cluster {

// Every lease's ttl is at most this (`max-lease-ms`). A restarted member
// without its state stays quiet this long, so it must be bounded.
inline constexpr int64_t kMaxLeaseMsDefault = 60'000;
// Upper bound on `max-lease-ms` itself: a day. Longer leases are a design
// error for a lock service (the holder would need a day-long quarantine).
inline constexpr int64_t kMaxLeaseMsLimit = 24 * 3600 * 1000;

// Drift allowance rho (`lease-drift`): a holder counts its lease as
// ttl * (1 - rho); clocks may run at most rho/2 apart in rate. 1% is what
// Redlock clients use, far above NTP's 0.05% slew.
inline constexpr double kDriftDefault = 0.01;

// How long a coordinator waits for promises or commits before it gives up
// with -NOQUORUM (`round-timeout-ms`).
inline constexpr int64_t kRoundTimeoutMsDefault = 500;

// A round pre-empted by a higher ballot is retried at most this many times.
inline constexpr int kRoundAttemptsMax = 16;

// Members in one cluster; a quorum tally keeps one bit per member.
inline constexpr size_t kMembersMax = 31;

// A member with the log answers a promise (or sends an Accept of its own)
// before its turn's sync only when its round is at or below the reserve
// its log already holds: the highest round it has seen, rounded down to a
// multiple of this, plus twice this, so at least this above it
// (Node::MaySendBeforeSync). The reserve moves, and costs a record, once
// per this many rounds; a restart from the log raises every promise and
// ballot above it, so ballots jump by up to twice this after a crash.
inline constexpr uint64_t kRoundReserveStep = uint64_t{1} << 20;

// Rounds in flight on one coordinator; beyond this a write is refused.
inline constexpr size_t kRoundsInFlightMax = 100'000;

}  // namespace lockerd::cluster
