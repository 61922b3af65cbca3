// The clock a clean restart measures its downtime with: CLOCK_BOOTTIME,
// which counts every millisecond since the machine booted (suspend
// included) and which no one can set, so a wall-clock step while a member
// is down changes nothing. Its readings compare only within one boot, so
// they travel with the boot's id (/proc/sys/kernel/random/boot_id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lockerd::server {

struct BootStamp {
  std::string boot_id;   // Empty when the system does not say.
  int64_t boottime_ms = 0;
};

BootStamp ReadBootStamp();

// How long passed between `then` and `now`, or nothing when they are of
// different boots (or either boot is unknown): the machine rebooted.
std::optional<int64_t> ElapsedWithinBoot(const BootStamp& then, const BootStamp& now);

}  // namespace lockerd::server
