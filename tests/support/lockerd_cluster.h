// Starts a lockerd cluster of real processes on loopback ports for
// integration tests: every member knows the full member list and the shared
// secret; each keeps its own data dir, so a member can be killed (-9),
// paused (SIGSTOP) and restarted on the same port and dir. Every process is
// stopped by PID and every dir removed when the cluster object goes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {

// Short leases keep the restart quarantine short (max-lease-ms * 1.01 + the
// round timeout), so tests that restart members wait seconds, not a minute.
inline const std::vector<std::string> kFastClusterSettings = {"--max-lease-ms", "1500",
                                                              "--round-timeout-ms", "300"};

class LockerdCluster {
 public:
  // `args` are extra settings every member gets (e.g. a short max-lease-ms).
  static std::unique_ptr<LockerdCluster> Start(size_t members, std::vector<std::string> args = {});
  // Starts every member (each answers PING) without waiting for the links
  // or the members' first-start checks: what an operator's clients see.
  static std::unique_ptr<LockerdCluster> Launched(size_t members, std::vector<std::string> args = {});

  // A cluster whose members serve TLS only and link over TLS: each member
  // gets `args`, then its own `member_args[i]` (its certificate, CA and
  // tls-cluster). Start does not wait for the links (hiredis cannot ask
  // over TLS); the test does.
  static std::unique_ptr<LockerdCluster> StartTlsOnly(
      size_t members, std::vector<std::string> args,
      std::vector<std::vector<std::string>> member_args);
  ~LockerdCluster();

  size_t size() const { return members_.size(); }
  LockerdProcess& member(size_t i) { return *members_[i]; }
  int port(size_t i) const { return ports_[i]; }
  RedisPtr Connect(size_t i) const;

  void Kill(size_t i);     // kill -9: the member loses its memory.
  void Stop(size_t i);     // SIGTERM: a clean shutdown that saves its leases.
  void Restart(size_t i);  // Same port, same dir, same settings.
  // Same port and dir, these settings instead of the cluster's (the member
  // list and secret still come first), and this extra environment.
  void RestartWith(size_t i, std::vector<std::string> args, std::vector<std::string> env = {},
                   std::vector<std::string> wrapper = {});
  const std::vector<std::string>& args() const { return args_; }
  void Pause(size_t i);    // SIGSTOP.
  void Resume(size_t i);   // SIGCONT.

 private:
  // Picks free ports and data dirs and starts every member.
  void Launch(size_t members);
  LockerdProcess::Options OptionsFor(size_t i) const;

  std::vector<int> ports_;
  std::vector<std::string> dirs_;
  std::vector<std::string> args_;
  std::vector<std::vector<std::string>> member_args_;
  bool tls_only_ = false;
  std::vector<std::unique_ptr<LockerdProcess>> members_;
  std::vector<bool> paused_;
};

}  // namespace lockerd::testing
