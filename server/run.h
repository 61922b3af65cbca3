// lockerd's whole run, from the command line to the exit status: reads the
// settings, answers --help and --version, then runs the server until it is
// told to stop. lockerd's main() is this function and nothing else; the
// fault suite's test-only binary (tests/faults/lockerd_broken_main.cc) runs
// the same function with a safety rule broken on purpose. No setting or
// flag of lockerd reaches `broken`: only that binary passes it.
#pragma once

#include "cluster/broken.h"

namespace lockerd::server {

// Returns the process's exit status. `broken`: the rules to break on
// purpose (cluster/broken.h), for a test's checker to catch; none in lockerd.
int RunLockerd(int argc, char** argv, const cluster::BrokenRules& broken = {});

}  // namespace lockerd::server
