// Starts the real lockerd binary for integration tests: on a free loopback
// port, with its own temporary data dir and log file, and stops it by PID
// (SIGTERM, then SIGKILL) when the test ends, so no process outlives a test.
// Also: hiredis connections and running redis-cli as a child process.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockerd::testing {

struct RedisFree {
  void operator()(redisContext* context) const { redisFree(context); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisPtr = std::unique_ptr<redisContext, RedisFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// The lockerd binary the tests start: the one this build made, or the one
// LOCKERD_TEST_BINARY names (to run the same tests against an older build,
// e.g. to show a test fails without the fix it checks).
std::string LockerdBinary();

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Sends one command (argv form, binary safe) and reads its reply.
ReplyPtr Command(redisContext* context, const std::vector<std::string>& args);

// Sends a command without waiting for its reply, for a client that is
// about to block (LOCK ... WAIT); read the reply later with GetReply().
// False if the bytes could not be written.
bool SendCommand(redisContext* context, const std::vector<std::string>& args);
// The next reply on `context` (waits up to the context's timeout); null on
// timeout or a broken connection.
ReplyPtr GetReply(redisContext* context);

// The value of `field` in the server's INFO text ("" if absent).
std::string InfoField(redisContext* context, std::string_view field);
// Asks INFO until `field` reads `value`, for states the server reaches on
// its own (a waiter registered, a closed connection noticed); false if it
// did not within `timeout`.
bool WaitForInfoField(redisContext* context, std::string_view field, std::string_view value,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together.
};
// Runs a program with `args` (no shell), feeding `input` on stdin.
ProcessResult RunProgram(const std::vector<std::string>& args, const std::string& input = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

class LockerdProcess {
 public:
  // Every member has a default, so designated initializers may name any
  // subset: Start({.args = {"--maxclients", "2"}}).
  struct Options {
    std::vector<std::string> args = {};  // Extra settings, e.g. {"--requirepass", "x"}.
    std::string config_file = {};        // Passed first, as lockerd reads it; flags override it.
    std::string dir = {};                // Data dir; a fresh temporary one if empty.
    int port = 0;                        // 0: a free port.
    bool wait_ready = true;
    // TLS only: `port` becomes --tls-port and --port is 0; readiness is the
    // "ready" log line, since hiredis cannot speak TLS (Connect() does not
    // work then). The TLS settings themselves go in `args`.
    bool tls_only = false;
    // Extra environment ("NAME=value"), e.g. libfaketime's LD_PRELOAD and
    // FAKETIME to start the server with its wall clock stepped.
    std::vector<std::string> env = {};
    // A command the binary runs under, which execs the rest of its
    // arguments in the same process (so pid() is lockerd's): e.g. unshare
    // and a shell that mounts a small file system on the data dir.
    std::vector<std::string> wrapper = {};
  };

  // Starts lockerd; on failure the test fails with the server's log.
  static std::unique_ptr<LockerdProcess> Start(Options options);
  static std::unique_ptr<LockerdProcess> Start() { return Start(Options{}); }
  ~LockerdProcess();
  LockerdProcess(const LockerdProcess&) = delete;
  LockerdProcess& operator=(const LockerdProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string Log() const;

  RedisPtr Connect(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Sends `signal` and waits for the exit; returns the exit status (or
  // 128 + signal when killed by one), or nullopt if it did not exit in time.
  std::optional<int> Stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reaps the process if it exited (its status is kept for Stop()).
  bool Running();

 private:
  LockerdProcess() = default;
  bool WaitReady(std::chrono::milliseconds timeout);
  bool WaitLogged(std::string_view text, std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  int port_ = 0;
  std::string dir_;
  bool own_dir_ = false;
  std::string log_path_;
  bool tls_only_ = false;
};

}  // namespace lockerd::testing
