#include "tests/support/lockerd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <random>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A test that writes to a connection the server has closed (hiredis after a
// protocol error, a refused client) must get EPIPE, not be killed by
// SIGPIPE: ignore it once, when the test process starts.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lockerd-test-XXXXXX").string();
  const char* made = mkdtemp(pattern.data());
  return made == nullptr ? std::string() : std::string(made);
}

// execv with argv built from strings; only returns on failure.
void Exec(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  _exit(127);
}

}  // namespace

std::string LockerdBinary() {
  const char* chosen = std::getenv("LOCKERD_TEST_BINARY");
  return chosen != nullptr && *chosen != '\0' ? chosen : LOCKERD_BINARY;
}

int FreePort() {
  // Below the ephemeral range (32768 and up), so that outgoing connections
  // (members reconnecting to each other) never take a port a test is about
  // to start a server on.
  static std::mt19937 rng(static_cast<unsigned>(getpid()) * 7919u +
                          static_cast<unsigned>(time(nullptr)));
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = 20000 + static_cast<int>(rng() % 12000);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free_now = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(fd);
    if (free_now) return port;
  }
  return 0;
}

ReplyPtr Command(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data())));
}

bool SendCommand(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context, static_cast<int>(args.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    return false;
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context, &done) != REDIS_OK) return false;
  }
  return true;
}

ReplyPtr GetReply(redisContext* context) {
  void* reply = nullptr;
  if (redisGetReply(context, &reply) != REDIS_OK) return nullptr;
  return ReplyPtr(static_cast<redisReply*>(reply));
}

std::string InfoField(redisContext* context, std::string_view field) {
  ReplyPtr reply = Command(context, {"INFO"});
  if (reply == nullptr || reply->type != REDIS_REPLY_STRING) return {};
  const std::string_view text(reply->str, reply->len);
  const std::string wanted = "\r\n" + std::string(field) + ":";
  size_t start = text.find(wanted);
  if (start == std::string_view::npos) return {};
  start += wanted.size();
  return std::string(text.substr(start, text.find("\r\n", start) - start));
}

bool WaitForInfoField(redisContext* context, std::string_view field, std::string_view value,
                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (InfoField(context, field) == value) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ProcessResult RunProgram(const std::vector<std::string>& args, const std::string& input,
                         std::chrono::milliseconds timeout) {
  int to_child[2];
  int from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    dup2(from_child[1], 2);
    close(to_child[1]);
    close(from_child[0]);
    Exec(args);
  }
  close(to_child[0]);
  close(from_child[1]);
  // Feed stdin from a thread so a child that writes a lot cannot deadlock us.
  std::thread feeder([fd = to_child[1], &input] {
    size_t sent = 0;
    while (sent < input.size()) {
      const ssize_t n = write(fd, input.data() + sent, input.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(fd);
  });
  ProcessResult result;
  const auto deadline = Clock::now() + timeout;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd poll_fd{from_child[0], POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(from_child[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(from_child[0]);
  feeder.join();
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::unique_ptr<LockerdProcess> LockerdProcess::Start(Options options) {
  std::unique_ptr<LockerdProcess> process(new LockerdProcess());
  if (options.dir.empty()) {
    process->dir_ = MakeTempDir();
    process->own_dir_ = true;
  } else {
    process->dir_ = options.dir;
  }
  // A free port can be taken between FreePort() and the server's bind; try
  // a few ports before giving up.
  for (int attempt = 0; attempt < 5; ++attempt) {
    process->port_ = options.port != 0 ? options.port : FreePort();
    process->log_path_ = process->dir_ + "/lockerd-" + std::to_string(process->port_) + ".log";
    std::vector<std::string> args = {LockerdBinary()};
    if (!options.config_file.empty()) args.push_back(options.config_file);
    if (options.tls_only) {
      args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(process->port_)});
    } else {
      args.insert(args.end(), {"--port", std::to_string(process->port_)});
    }
    args.insert(args.end(), {"--dir", process->dir_});
    process->tls_only_ = options.tls_only;
    args.insert(args.end(), options.args.begin(), options.args.end());
    args.insert(args.begin(), options.wrapper.begin(), options.wrapper.end());
    const pid_t pid = fork();
    if (pid == 0) {
      const int log = open(process->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 1);
      dup2(log, 2);
      for (const std::string& variable : options.env) putenv(const_cast<char*>(variable.c_str()));
      Exec(args);
    }
    process->pid_ = pid;
    if (!options.wait_ready) return process;
    if (process->WaitReady(std::chrono::seconds(10))) return process;
    process->Stop(SIGKILL);
    if (options.port != 0) break;
  }
  ADD_FAILURE() << "lockerd did not start; its log:\n" << process->Log();
  return process;
}

LockerdProcess::~LockerdProcess() {
  if (Running()) {
    const std::optional<int> status = Stop(SIGTERM, std::chrono::seconds(5));
    if (!status) {
      Stop(SIGKILL);
      ADD_FAILURE() << "lockerd on port " << port_ << " did not stop on SIGTERM";
    } else if (*status != 0) {
      ADD_FAILURE() << "lockerd on port " << port_ << " exited with " << *status
                    << " on SIGTERM; its log:\n" << Log();
    }
  }
  // A crash the test tolerated (a member that may die) must still not be a
  // memory error or undefined behaviour.
  const std::string log = Log();
  if (log.find("Sanitizer") != std::string::npos || log.find("runtime error:") != std::string::npos ||
      log.find("CHECK failed") != std::string::npos) {
    ADD_FAILURE() << "lockerd on port " << port_ << " reported an error; its log:\n" << log;
  }
  if (own_dir_ && !dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool LockerdProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == 0) return true;
  if (done == pid_) exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  return false;
}

std::optional<int> LockerdProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (!Running()) return exit_status_;
  kill(pid_, signal);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_status_;
    }
    if (done < 0) {
      pid_ = -1;
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

bool LockerdProcess::WaitLogged(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return false;
    if (Log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool LockerdProcess::WaitReady(std::chrono::milliseconds timeout) {
  // The line is logged after the listening sockets are open.
  if (tls_only_) return WaitLogged("ready to accept connections", timeout);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return false;
    redisContext* context = redisConnect("127.0.0.1", port_);
    if (context != nullptr && context->err == 0) {
      ReplyPtr reply = Command(context, {"PING"});
      const bool ok = reply != nullptr;
      redisFree(context);
      if (ok) return true;
    } else if (context != nullptr) {
      redisFree(context);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

RedisPtr LockerdProcess::Connect(std::chrono::milliseconds timeout) const {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  RedisPtr context(redisConnectWithTimeout("127.0.0.1", port_, tv));
  if (context != nullptr && context->err == 0) redisSetTimeout(context.get(), tv);
  return context;
}

std::string LockerdProcess::Log() const {
  std::ifstream file(log_path_);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace lockerd::testing
