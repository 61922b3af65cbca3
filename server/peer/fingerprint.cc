#include "server/peer/fingerprint.h"

#include <cstdio>

#include "cluster/siphash.h"
#include "server/config/setting_values.h"

namespace lockerd::server {

std::string ClusterFingerprint(const Config& config) {
  std::string text;
  for (const std::string& member : config.cluster) text += member + ",";
  // The settings every member's safety arithmetic must agree on: the
  // quarantine, the tombstones' life and the age limit of commits all
  // derive from them (cluster/lease_math.h).
  text += "|" + std::to_string(config.max_lease_ms) + "|" +
          settings::FormatDouble(config.lease_drift) + "|" + std::to_string(config.round_timeout_ms);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(cluster::SipHash13(cluster::HashKey{}, text)));
  return hex;
}

}  // namespace lockerd::server
