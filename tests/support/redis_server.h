// Starts the real redis-server (Debian's redis-server package) on a free
// loopback port, for tests that compare lockerd's replies with Redis's:
// same client, same calls. Stopped by PID when the object goes. Skips the
// test (GTEST_SKIP in the caller, via available()) when redis-server is not
// installed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {

class RedisServerProcess {
 public:
  struct Options {
    std::vector<std::string> args = {};     // Settings after the defaults (they win).
    std::vector<std::string> wrapper = {};  // As LockerdProcess::Options::wrapper.
  };
  // Null when redis-server is missing or did not start.
  static std::unique_ptr<RedisServerProcess> Start(const Options& options);
  static std::unique_ptr<RedisServerProcess> Start() { return Start(Options{}); }
  pid_t pid() const { return pid_; }
  static bool available();
  ~RedisServerProcess();
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  int port() const { return port_; }
  RedisPtr Connect() const;
  // Reaps the process if it exited; its status is kept.
  bool Running();
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

 private:
  RedisServerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::optional<int> exit_status_;
};

}  // namespace lockerd::testing
