// What the files of the Server class share (server.cc, connection_io.cc,
// connection_writes.cc, housekeeping.cc, member_start.cc): small helpers.
// Not for use outside server/net.
#pragma once

#include <ctime>
#include <cstdint>
#include <string>

#include <uv.h>

#include "server/net/connection.h"

namespace lockerd::server::net_internal {

inline int64_t WallMs() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

inline Connection& ConnectionOf(uv_handle_t* handle) { return *static_cast<Connection*>(handle->data); }

}  // namespace lockerd::server::net_internal
