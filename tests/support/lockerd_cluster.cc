#include "tests/support/lockerd_cluster.h"

#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

namespace lockerd::testing {

std::unique_ptr<LockerdCluster> LockerdCluster::StartTlsOnly(
    size_t members, std::vector<std::string> args,
    std::vector<std::vector<std::string>> member_args) {
  std::unique_ptr<LockerdCluster> cluster(new LockerdCluster());
  cluster->args_ = std::move(args);
  cluster->member_args_ = std::move(member_args);
  cluster->tls_only_ = true;
  cluster->member_args_.resize(members);
  cluster->Launch(members);
  return cluster;
}

std::unique_ptr<LockerdCluster> LockerdCluster::Start(size_t members, std::vector<std::string> args) {
  std::unique_ptr<LockerdCluster> cluster(new LockerdCluster());
  cluster->args_ = std::move(args);
  cluster->Launch(members);
  // Ready when every member's links to all the others are up, and it
  // votes (a new member first checks that a majority of the others are new
  // too: CLUSTER-SAFETY.md, "Restarts").
  for (size_t i = 0; i < members; ++i) {
    RedisPtr client = cluster->Connect(i);
    if (!client || !WaitForInfoField(client.get(), "cluster_reachable_members",
                                     std::to_string(members), std::chrono::seconds(10)) ||
        !WaitForInfoField(client.get(), "member_state", "ok", std::chrono::seconds(10))) {
      ADD_FAILURE() << "member " << i << " did not reach its peers or did not start voting; its log:\n"
                    << cluster->members_[i]->Log();
    }
  }
  return cluster;
}

std::unique_ptr<LockerdCluster> LockerdCluster::Launched(size_t members, std::vector<std::string> args) {
  std::unique_ptr<LockerdCluster> cluster(new LockerdCluster());
  cluster->args_ = std::move(args);
  cluster->Launch(members);
  return cluster;
}

void LockerdCluster::Launch(size_t members) {
  std::set<int> taken;
  while (ports_.size() < members) {
    const int port = FreePort();
    if (taken.insert(port).second) ports_.push_back(port);
  }
  for (size_t i = 0; i < members; ++i) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lockerd-cluster-XXXXXX").string();
    dirs_.push_back(mkdtemp(pattern.data()));
  }
  // Each start waits for its member to answer PING (a member answers PING
  // before its peers are up), not for its links.
  for (size_t i = 0; i < members; ++i) {
    members_.push_back(LockerdProcess::Start(OptionsFor(i)));
    paused_.push_back(false);
  }
}

LockerdProcess::Options LockerdCluster::OptionsFor(size_t i) const {
  std::string list;
  for (const int port : ports_) list += (list.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(port));
  LockerdProcess::Options options;
  options.args = args_;
  options.args.insert(options.args.end(), {"--cluster", list, "--cluster-secret", "test-secret",
                                           "--advertise", "127.0.0.1:" + std::to_string(ports_[i])});
  if (i < member_args_.size()) {
    options.args.insert(options.args.end(), member_args_[i].begin(), member_args_[i].end());
  }
  options.dir = dirs_[i];
  options.port = ports_[i];
  options.tls_only = tls_only_;
  return options;
}

LockerdCluster::~LockerdCluster() {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (paused_[i] && members_[i]) kill(members_[i]->pid(), SIGCONT);
  }
  members_.clear();  // Each stops its process by PID.
  for (const std::string& dir : dirs_) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
}

RedisPtr LockerdCluster::Connect(size_t i) const { return members_[i]->Connect(); }

void LockerdCluster::Kill(size_t i) { members_[i]->Stop(SIGKILL); }

void LockerdCluster::Stop(size_t i) { members_[i]->Stop(SIGTERM); }

void LockerdCluster::Restart(size_t i) {
  if (members_[i]->Running()) members_[i]->Stop(SIGKILL);
  members_[i] = LockerdProcess::Start(OptionsFor(i));
  paused_[i] = false;
}

void LockerdCluster::RestartWith(size_t i, std::vector<std::string> args, std::vector<std::string> env,
                                 std::vector<std::string> wrapper) {
  if (members_[i]->Running()) members_[i]->Stop(SIGKILL);
  LockerdProcess::Options options = OptionsFor(i);
  options.args.erase(options.args.begin(), options.args.begin() + static_cast<long>(args_.size()));
  options.args.insert(options.args.end(), args.begin(), args.end());
  options.env = std::move(env);
  options.wrapper = std::move(wrapper);
  members_[i] = LockerdProcess::Start(options);
  paused_[i] = false;
}

void LockerdCluster::Pause(size_t i) {
  kill(members_[i]->pid(), SIGSTOP);
  paused_[i] = true;
}

void LockerdCluster::Resume(size_t i) {
  kill(members_[i]->pid(), SIGCONT);
  paused_[i] = false;
}

}  // namespace lockerd::testing
