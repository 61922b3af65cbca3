#include "server/boot_clock.h"

#include <time.h>

#include <fstream>

namespace lockerd::server {

BootStamp ReadBootStamp() {
  // The boot's id does not change while the process runs: read once (the
  // append-only log stamps every record).
  static const std::string boot_id = [] {
    std::string id;
    std::ifstream file("/proc/sys/kernel/random/boot_id");
    if (file) std::getline(file, id);
    return id;
  }();
  BootStamp stamp;
  stamp.boot_id = boot_id;
  timespec now{};
  if (clock_gettime(CLOCK_BOOTTIME, &now) == 0) {
    stamp.boottime_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  } else {
    stamp.boot_id.clear();  // No boot clock: every downtime is unknown.
  }
  return stamp;
}

std::optional<int64_t> ElapsedWithinBoot(const BootStamp& then, const BootStamp& now) {
  if (then.boot_id.empty() || then.boot_id != now.boot_id || now.boottime_ms < then.boottime_ms) {
    return std::nullopt;
  }
  return now.boottime_ms - then.boottime_ms;
}

}  // namespace lockerd::server
