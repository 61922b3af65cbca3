// The configuration state (server/membership_file.h), kept in step with
// the member: written before anything of the turn that changed it leaves.
#include <cstdlib>

#include "base/log.h"
#include "server/net/server.h"

namespace lockerd::server {

void Server::SaveMembership() {
  cluster::Node& node = engine_.node();
  if (!node.TakeMembershipStateChanged()) return;
  if (const std::string error = membership_file_.Save(node.membership_state()); !error.empty()) {
    // Its promise or vote in the configuration register, or a configuration
    // it adopted, would be forgotten by the next start: nothing of this
    // turn may leave. The running marker stays, so the next start recovers
    // the register from the others before voting (a restart quarantine).
    Log(LogLevel::kWarning, "Could not keep the configuration (%s): stopping at once, as after a crash",
        error.c_str());
    std::_Exit(EXIT_FAILURE);
  }
}

}  // namespace lockerd::server
