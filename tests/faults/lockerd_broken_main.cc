// lockerd_broken: lockerd with a rule of CLUSTER-SAFETY.md broken on
// purpose, for the fault suite's self-test only (lockerd_faults
// --break-rule NAME --expect-violations; docs/faults.md). It runs the same
// server as lockerd, through the same RunLockerd (server/run.h), with the
// named rule in its node's options; lockerd itself has no way to break one.
//
//   lockerd_broken --break-rule NAME [lockerd's arguments...]
//
// --break-rule may come anywhere and more than once; every other argument
// is lockerd's, in its order (a config file path first, then flags).
#include <cstdio>
#include <cstring>
#include <vector>

#include "cluster/broken.h"
#include "server/run.h"

int main(int argc, char** argv) {
  lockerd::cluster::BrokenRules broken;
  std::vector<char*> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--break-rule") != 0) {
      args.push_back(argv[i]);
      continue;
    }
    if (i + 1 >= argc || !lockerd::cluster::BreakRule(argv[i + 1], broken)) {
      std::fprintf(stderr, "lockerd_broken: --break-rule needs one of: %s\n",
                   lockerd::cluster::BrokenRuleNames().c_str());
      return 1;
    }
    ++i;
  }
  if (lockerd::cluster::BrokenRuleNames(broken).empty()) {
    std::fprintf(stderr,
                 "lockerd_broken: a test-only lockerd that breaks a safety rule on purpose; give "
                 "--break-rule NAME (one of: %s), then lockerd's arguments\n",
                 lockerd::cluster::BrokenRuleNames().c_str());
    return 1;
  }
  args.push_back(nullptr);
  return lockerd::server::RunLockerd(static_cast<int>(args.size()) - 1, args.data(), broken);
}
