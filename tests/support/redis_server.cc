#include "tests/support/redis_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

namespace lockerd::testing {
namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";

}  // namespace

bool RedisServerProcess::available() { return std::filesystem::exists(kRedisServer); }

std::unique_ptr<RedisServerProcess> RedisServerProcess::Start(const Options& options) {
  if (!available()) return nullptr;
  std::unique_ptr<RedisServerProcess> server(new RedisServerProcess());
  server->port_ = FreePort();
  const std::string port = std::to_string(server->port_);
  const pid_t pid = fork();
  if (pid == 0) {
    // No persistence, loopback only, quiet: a reference, not a store.
    std::vector<std::string> args = {kRedisServer, "--port", port, "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                                     "--loglevel", "warning", "--dir", "/tmp"};
    args.insert(args.end(), options.args.begin(), options.args.end());
    args.insert(args.begin(), options.wrapper.begin(), options.wrapper.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  server->pid_ = pid;
  for (int attempt = 0; attempt < 200; ++attempt) {
    RedisPtr client = server->Connect();
    if (client && client->err == 0) {
      ReplyPtr pong = Command(client.get(), {"PING"});
      if (pong && pong->type == REDIS_REPLY_STATUS) return server;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

RedisServerProcess::~RedisServerProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

RedisPtr RedisServerProcess::Connect() const {
  timeval timeout{5, 0};
  return RedisPtr(redisConnectWithTimeout("127.0.0.1", port_, timeout));
}

bool RedisServerProcess::Running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::optional<int> RedisServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_status_;
}

}  // namespace lockerd::testing
