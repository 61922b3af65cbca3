// lockerd's entry point: reads the settings, then runs the server until it
// is told to stop.
#include <csignal>
#include <cstdio>
#include <utility>

#include "cluster/broken.h"
#include "server/config.h"
#include "server/log.h"
#include "server/open_files.h"
#include "server/server.h"
#include "server/version.h"

int main(int argc, char** argv) {
  using namespace lockerd::server;
  std::signal(SIGPIPE, SIG_IGN);
  const ConfigLoad load = LoadConfig(argc, argv);
  if (load.help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (load.version) {
    std::printf("lockerd %.*s (redis protocol %.*s)\n", static_cast<int>(kLockerdVersion.size()),
                kLockerdVersion.data(), static_cast<int>(kRedisCompatVersion.size()),
                kRedisCompatVersion.data());
    return 0;
  }
  if (!load.config) {
    for (const std::string& error : load.errors) std::fprintf(stderr, "lockerd: %s\n", error.c_str());
    std::fprintf(stderr, "Run lockerd --help for the settings.\n");
    return 1;
  }
  SetLogLevel(load.config->loglevel);
  if (const std::string& rule = load.config->debug_break_rule; !rule.empty()) {
    lockerd::cluster::BrokenRules& broken = lockerd::cluster::Broken();
    broken.forget_promises = rule == "forget-promises";
    broken.success_without_majority = rule == "success-without-majority";
    broken.vote_in_quarantine = rule == "vote-in-quarantine";
    broken.token_without_floor = rule == "token-without-floor";
    Log(LogLevel::kWarning, "TEST BUILD BEHAVIOUR: safety rule broken on purpose (%s); never "
        "use this outside tests", rule.c_str());
  }
  Config config = *load.config;
  RaiseOpenFilesLimit(&config);
  Server server(std::move(config));
  return server.Run();
}
