#include "server/run.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "base/log.h"
#include "server/commands/command_table.h"
#include "server/config/config.h"
#include "server/config/version.h"
#include "server/net/open_files.h"
#include "server/net/server.h"

namespace {

// Every exit path says why. SIGTERM, SIGINT and SHUTDOWN stop the server
// cleanly (server.cc); SIGHUP and the user signals are ignored there. Any
// other signal that ends the process gets one line on stderr first (written
// with write(2), the only safe way inside a signal handler), then its
// default action: the running marker stays, and the next start quarantines.
void OnFatalSignal(int signum) {
  char line[160] = "lockerd: terminated by signal ";
  size_t length = std::strlen(line);
  char digits[8];
  size_t count = 0;
  for (int n = signum; n > 0 && count < sizeof digits; n /= 10) digits[count++] = static_cast<char>('0' + n % 10);
  while (count > 0) line[length++] = digits[--count];
  const char tail[] = " without saving its state; the next start quarantines\n";
  std::memcpy(line + length, tail, sizeof tail - 1);
  length += sizeof tail - 1;
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line, length);
  std::signal(signum, SIG_DFL);
  std::raise(signum);
}

void LogFatalSignals() {
  std::vector<int> signals = {SIGQUIT, SIGTRAP, SIGSYS,  SIGXCPU, SIGXFSZ,
                              SIGALRM, SIGVTALRM, SIGPROF, SIGPWR, SIGSTKFLT, SIGIO};
#if !defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reports these itself, with the stack.
  for (const int fatal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signals.push_back(fatal);
#endif
  for (const int signum : signals) {
    struct sigaction action {};
    action.sa_handler = OnFatalSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    sigaction(signum, &action, nullptr);
  }
}

}  // namespace

namespace lockerd::server {

int RunLockerd(int argc, char** argv, const cluster::BrokenRules& broken) {
  std::signal(SIGPIPE, SIG_IGN);
  LogFatalSignals();
  const ConfigLoad load = LoadConfig(argc, argv, CommandAclCatalog());
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
  Config config = *load.config;
  config.broken_rules = broken;
  if (const std::string rules = cluster::BrokenRuleNames(broken); !rules.empty()) {
    Log(LogLevel::kWarning, "TEST BUILD BEHAVIOUR: safety rule broken on purpose (%s); never "
        "use this outside tests", rules.c_str());
  }
  RaiseOpenFilesLimit(&config);
  Server server(std::move(config));
  return server.Run();
}

}  // namespace lockerd::server
