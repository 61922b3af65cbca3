#include "server/engine/local_leases.h"

#include "server/engine/engine.h"

namespace lockerd::server {

std::vector<cluster::LeaseView> LocalLeases(const Engine& engine, const std::vector<std::string>& names,
                                            cluster::Time now) {
  std::vector<cluster::LeaseView> leases;
  leases.reserve(names.size());
  for (const std::string& name : names) {
    cluster::LeaseView lease;
    if (const cluster::Register* reg = engine.node().table().FindHeld(name, now.mono_ms)) {
      lease = {true, std::string(reg->owner.str()), reg->token, reg->RemainingMs(now.mono_ms)};
    }
    leases.push_back(std::move(lease));
  }
  return leases;
}

}  // namespace lockerd::server
