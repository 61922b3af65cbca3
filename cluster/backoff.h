// How long a pre-empted attempt waits before it retries: a uniform draw
// from [0, window] ms, the window growing with each attempt, so that two
// coordinators that keep pre-empting each other drift apart instead of
// colliding again. Both coordinators (single-key rounds, transactions) use
// it; the single-key one shortens it for a key's home member
// (Coordinator::Retry). The draw itself is the caller's, from its own
// seeded generator.
#pragma once

#include <algorithm>
#include <cstdint>

namespace lockerd::cluster {

// The widest window: a retry never waits longer than this for a duel to
// end, a small part of a round's timeout (500 ms by default).
inline constexpr int64_t kBackoffCapMs = 64;

// `attempt`: the attempt about to start (1 for the first retry: 8 ms).
inline int64_t BackoffWindowMs(int attempt) {
  return std::min<int64_t>(kBackoffCapMs, int64_t{4} << attempt);
}

}  // namespace lockerd::cluster
