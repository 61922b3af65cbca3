// What every member of a cluster must agree on (the ordered member list,
// max-lease-ms, lease-drift, round-timeout-ms), hashed: peers compare it in
// their handshake (auth.h), so a member started with another list or other
// lease settings is refused.
#pragma once

#include <string>

#include "server/config/config.h"

namespace lockerd::server {

std::string ClusterFingerprint(const Config& config);

}  // namespace lockerd::server
