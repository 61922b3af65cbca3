// Raises the process's open-files limit (RLIMIT_NOFILE) so that maxclients
// connections fit, as Redis does at startup: each client costs one file
// descriptor, and the common soft limit of 1024 would refuse clients (accept
// failing with EMFILE) long before maxclients. It runs once, before the
// server starts; it does not touch any other limit.
#pragma once

#include "server/config/config.h"

namespace lockerd::server {

// Asks for maxclients + kReservedFds descriptors: the soft limit up to the
// hard limit, and the hard limit too when the process may (root). When even
// that is not enough, lowers config->maxclients to what fits and logs a
// warning saying why, so that CONFIG GET maxclients tells the truth.
void RaiseOpenFilesLimit(Config* config);

}  // namespace lockerd::server
