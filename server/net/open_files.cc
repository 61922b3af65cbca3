#include "server/net/open_files.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace lockerd::server {

void RaiseOpenFilesLimit(Config* config) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    Log(LogLevel::kWarning, "Cannot read the open files limit: %s", std::strerror(errno));
    return;
  }
  const rlim_t wanted = static_cast<rlim_t>(config->maxclients + kReservedFds);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    // Raising the hard limit needs privilege (CAP_SYS_RESOURCE); without
    // it, the soft limit can still go up to the hard one.
    rlimit raised = {wanted, std::max(limit.rlim_max, wanted)};
    if (limit.rlim_max == RLIM_INFINITY) raised.rlim_max = RLIM_INFINITY;
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      raised = {std::min(limit.rlim_max, wanted), limit.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = limit;
    }
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return;
  const size_t fit = limit.rlim_cur > kReservedFds ? limit.rlim_cur - kReservedFds : 1;
  Log(LogLevel::kWarning,
      "maxclients %zu needs %llu open files but the limit is %llu (hard %llu; raise it with "
      "ulimit -n or LimitNOFILE=): maxclients is lowered to %zu",
      config->maxclients, static_cast<unsigned long long>(wanted),
      static_cast<unsigned long long>(limit.rlim_cur),
      static_cast<unsigned long long>(limit.rlim_max), fit);
  config->maxclients = fit;
}

}  // namespace lockerd::server
