// Fencing tokens: every acquire of a key gets a token larger than any token
// issued before it, across restarts of any member.
//
// Tokens come from a counter (the largest token a member has seen) and a
// floor taken from the wall clock in microseconds. The counter keeps tokens
// growing while a member runs; the floor keeps them growing across a restart
// that lost the counter, provided the wall clock did not step back by more
// than the restart quarantine (max-lease-ms) and fewer than a million tokens
// a second are issued on average. Microseconds (not a larger shift) keep
// tokens below 2^53 until the year 2255, so JavaScript and Lua clients, whose
// numbers are doubles, read them exactly.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cluster/broken.h"

namespace lockerd::cluster {

// Also the floor of the token counter and of ballots when a majority lost
// its memory at once (Node::FallBackToWallClockFloors).
inline uint64_t TokenFloor(int64_t wall_ms) {
  return wall_ms > 0 ? static_cast<uint64_t>(wall_ms) * 1000 : 0;
}

// The wall-clock reading a member takes its token floors from (what it
// passes as DecisionInput::wall_ms and TxnView::wall_ms, and to TokenFloor):
// the reading itself, or none (0, no floor) when a test breaks the rule
// token_without_floor.
inline int64_t FloorWallMs(int64_t wall_ms, const BrokenRules& broken) {
  return broken.token_without_floor ? 0 : wall_ms;
}

inline uint64_t NextToken(uint64_t largest_seen, int64_t wall_ms) {
  return std::max(largest_seen + 1, TokenFloor(wall_ms));
}

}  // namespace lockerd::cluster
