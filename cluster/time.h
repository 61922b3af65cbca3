// Time as the server reads it once per loop turn and passes down: the core
// never reads a clock. This is only the value; reading the clocks is the
// server's loop's job.
#pragma once

#include <cstdint>

namespace lockerd::cluster {

struct Time {
  int64_t mono_ms = 0;  // Monotonic: leases, timeouts.
  int64_t wall_ms = 0;  // Wall clock: only the fencing-token floor.
  int64_t mono_us = 0;  // Monotonic, finer: only for latency statistics.
};

}  // namespace lockerd::cluster
