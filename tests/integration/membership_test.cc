// MEMBERS on the real binary (issue 18): the configuration listed, changed
// while clients lock and release through every member, and kept across
// kill -9. docs/SPEC.md, "Membership", is the contract.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/reply_text.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Address(const LockerdCluster& cluster, size_t i) {
  return "127.0.0.1:" + std::to_string(cluster.port(i));
}

// MEMBERS as seen by one member: each entry's fields by name (RESP2: a
// flat array of names and values per member).
struct MemberRow {
  int64_t id = -1;
  std::string address;
  std::string role;
  int64_t self = -1;
  int64_t reachable = -1;
  int64_t caught_up = -1;
  int64_t epoch = -1;
};

std::vector<MemberRow> Members(redisContext* client) {
  std::vector<MemberRow> rows;
  ReplyPtr reply = Command(client, {"MEMBERS"});
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return rows;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* entry = reply->element[i];
    MemberRow row;
    for (size_t f = 0; f + 1 < entry->elements; f += 2) {
      const std::string name = entry->element[f]->str;
      const redisReply* value = entry->element[f + 1];
      if (name == "id") row.id = value->integer;
      if (name == "address") row.address = value->str;
      if (name == "role") row.role = value->str;
      if (name == "self") row.self = value->integer;
      if (name == "reachable") row.reachable = value->integer;
      if (name == "caught_up") row.caught_up = value->integer;
      if (name == "epoch") row.epoch = value->integer;
    }
    rows.push_back(row);
  }
  return rows;
}

// A change, sent until it is answered +OK (a -TRYAGAIN or -NOQUORUM while
// a member restarts is retried, as an operator would).
std::string Change(LockerdCluster& cluster, size_t via, const std::vector<std::string>& command) {
  std::string last;
  for (int attempt = 0; attempt < 40; ++attempt) {
    RedisPtr client = cluster.Connect(via);
    if (client && client->err == 0) {
      last = Text(Command(client.get(), command));
      if (last == "OK" || last.rfind("ERR", 0) == 0) return last;
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  return last;
}

TEST(Membership, MembersListsTheConfigurationInRespTwoAndThree) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr client = cluster->Connect(1);
  ASSERT_TRUE(client && client->err == 0);
  const std::vector<MemberRow> rows = Members(client.get());
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].id, static_cast<int64_t>(i));
    EXPECT_EQ(rows[i].address, Address(*cluster, i));
    EXPECT_EQ(rows[i].role, "voter");
    EXPECT_EQ(rows[i].self, i == 1 ? 1 : 0);
    EXPECT_EQ(rows[i].reachable, 1) << i;
    EXPECT_EQ(rows[i].caught_up, 1);
    EXPECT_EQ(rows[i].epoch, 1);
  }
  // RESP3 (hiredis 0.14 cannot decode it; redis-cli prints a map's pairs
  // as "name value" lines).
  const ProcessResult resp3 =
      RunProgram({"redis-cli", "-p", std::to_string(cluster->port(1)), "-3", "MEMBERS"});
  ASSERT_EQ(resp3.exit_code, 0) << resp3.output;
  EXPECT_EQ(resp3.output.rfind("id 0\naddress " + Address(*cluster, 0) + "\nrole voter\nself 0\n", 0), 0u)
      << resp3.output;
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "FROB", "x"})),
            "ERR unknown subcommand 'FROB'. Try MEMBERS HELP.");
  EXPECT_EQ(Command(client.get(), {"MEMBERS", "HELP"})->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "REMOVE", Address(*cluster, 1)})),
            "ERR " + Address(*cluster, 1) + " is this member: send MEMBERS REMOVE to another member");
  const std::string unknown = "127.0.0.1:1";
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "ADD", unknown})).rfind("ERR " + unknown + " is not in", 0), 0u);
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "ADD", Address(*cluster, 2)})),
            "ERR MEMBERS ADD " + Address(*cluster, 2) + ": member 2 is already a voter");
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "PROMOTE", Address(*cluster, 2)})),
            "ERR MEMBERS PROMOTE " + Address(*cluster, 2) + ": member 2 is not a learner");
  EXPECT_EQ(Text(Command(client.get(), {"MEMBERS", "ADD", Address(*cluster, 2), "VOTER"})), "ERR syntax error");
}

// One client per member locks and releases its keys in a loop; what it
// was granted and when, for the checks below.
struct Grant {
  std::string key;
  size_t worker = 0;  // Each worker locks as its own owner.
  int64_t token = 0;
  Clock::time_point sent;
  Clock::time_point answered;
  Clock::time_point released;  // When its RELEASE was sent...
  bool release_ok = false;     // ... and whether it was answered 1.
};

constexpr int64_t kTtlMs = 1000;

void Work(LockerdCluster& cluster, size_t member, const std::atomic<bool>& stop, std::vector<Grant>* grants,
          std::vector<Clock::time_point>* successes, int* errors) {
  const std::string owner = "worker-" + std::to_string(member);
  RedisPtr client;
  for (uint64_t i = 0; !stop.load(); ++i) {
    if (client == nullptr || client->err != 0) {
      client = cluster.member(member).Connect(milliseconds(1000));
      if (client == nullptr || client->err != 0) {
        client.reset();
        std::this_thread::sleep_for(milliseconds(50));
        continue;
      }
    }
    Grant grant;
    grant.key = "k" + std::to_string(i % 3);
    grant.worker = member;
    grant.sent = Clock::now();
    ReplyPtr reply = Command(client.get(), {"LOCK", grant.key, owner, std::to_string(kTtlMs)});
    grant.answered = Clock::now();
    if (reply == nullptr) {
      client.reset();
      continue;
    }
    if (reply->type == REDIS_REPLY_ERROR) ++*errors;
    if (reply->type != REDIS_REPLY_INTEGER) continue;
    grant.token = reply->integer;
    successes->push_back(grant.answered);
    grant.released = Clock::now();
    ReplyPtr released = Command(client.get(), {"RELEASE", grant.key, owner});
    grant.release_ok = released != nullptr && released->type == REDIS_REPLY_INTEGER && released->integer == 1;
    if (released != nullptr && released->type == REDIS_REPLY_INTEGER && released->integer == 0) {
      std::printf("m%zu RELEASE %s answered 0 right after its grant (token %lld)\n", member,
                  grant.key.c_str(), static_cast<long long>(grant.token));
    }
    if (grant.release_ok) successes->push_back(Clock::now());
    grants->push_back(grant);
  }
}

// Five members; the configuration shrinks to three (the two removed are
// then killed, and the cluster goes on), grows back to five (the two
// restarted and added again), and two of the five are killed and
// restarted, while a client on every member locks and releases. No key
// has two holders, tokens only grow, every member ends at epoch 5, and
// the longest time without any successful write is printed per change.
TEST(Membership, ShrinkingAndGrowingUnderLoadKeepsOneHolderAndGrowingTokens) {
  auto cluster = LockerdCluster::Start(5, kFastClusterSettings);
  const Clock::time_point start = Clock::now();
  std::atomic<bool> stop{false};
  std::vector<std::vector<Grant>> grants(5);
  std::vector<std::vector<Clock::time_point>> successes(5);
  std::vector<int> errors(5, 0);
  std::vector<std::thread> workers;
  for (size_t i = 0; i < 5; ++i) {
    workers.emplace_back(Work, std::ref(*cluster), i, std::cref(stop), &grants[i], &successes[i], &errors[i]);
  }
  struct Step {
    std::string what;
    Clock::time_point start;
    Clock::time_point end;
  };
  std::vector<Step> steps;
  const auto change = [&](size_t via, const std::string& sub, size_t member) {
    Step step{"MEMBERS " + sub + " m" + std::to_string(member) + " via m" + std::to_string(via), Clock::now(), {}};
    EXPECT_EQ(Change(*cluster, via, {"MEMBERS", sub, Address(*cluster, member)}), "OK") << step.what;
    step.end = Clock::now();
    steps.push_back(step);
    std::this_thread::sleep_for(milliseconds(300));
  };
  std::this_thread::sleep_for(milliseconds(500));
  change(0, "REMOVE", 4);
  change(1, "REMOVE", 3);
  {
    RedisPtr client = cluster->Connect(2);
    const std::vector<MemberRow> rows = Members(client.get());
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].epoch, 3);
  }
  cluster->Kill(3);
  cluster->Kill(4);
  std::this_thread::sleep_for(milliseconds(500));
  cluster->Restart(3);
  cluster->Restart(4);
  change(2, "ADD", 3);
  change(0, "ADD", 4);
  cluster->Kill(0);
  cluster->Kill(1);
  std::this_thread::sleep_for(milliseconds(300));
  cluster->Restart(0);
  cluster->Restart(1);
  std::this_thread::sleep_for(milliseconds(2500));  // Past the restarts' quarantine.
  stop = true;
  for (std::thread& worker : workers) worker.join();

  // One holder at a time, tokens growing: per key, in the order the
  // grants were answered, each token is larger than the last, and each
  // grant came after the previous holder released (or its lease ran out).
  std::map<std::string, std::vector<Grant>> by_key;
  size_t granted = 0;
  for (const auto& list : grants) {
    for (const Grant& grant : list) by_key[grant.key].push_back(grant);
    granted += list.size();
  }
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(), [](const Grant& a, const Grant& b) { return a.answered < b.answered; });
    for (size_t i = 1; i < list.size(); ++i) {
      const Grant& before = list[i - 1];
      const Grant& after = list[i];
      // LOCK by the current owner is idempotent (docs/SPEC.md): a worker
      // whose RELEASE was not answered 1 (its member was killed) may be
      // answered the same token again. Any other equal token is reuse.
      const bool same_lease = after.worker == before.worker && !before.release_ok;
      if (same_lease && after.token == before.token) continue;
      EXPECT_GT(after.token, before.token)
          << key << ": a token went backwards or was reused (worker " << before.worker << " then worker "
          << after.worker << ", first RELEASE answered " << (before.release_ok ? "1" : "otherwise") << ")";
      // Its holder counts on it until it sends RELEASE (an error answer
      // may still have released it); a RELEASE is sent right after each
      // grant, so the lease never runs out first.
      const auto ms = [&](Clock::time_point t) {
        return std::chrono::duration_cast<milliseconds>(t - start).count();
      };
      EXPECT_GE(after.answered, before.released)
          << key << ": granted (token " << after.token << ", sent at " << ms(after.sent) << " ms, answered at "
          << ms(after.answered) << " ms) while token " << before.token << " was held (answered at "
          << ms(before.answered) << " ms, RELEASE sent at " << ms(before.released) << " ms, answered "
          << (before.release_ok ? "1" : "otherwise") << ")";
    }
  }
  EXPECT_GT(granted, 100u) << "too little load to prove anything";
  for (size_t i = 0; i < 5; ++i) {
    RedisPtr client = cluster->Connect(i);
    ASSERT_TRUE(client && client->err == 0);
    const std::vector<MemberRow> rows = Members(client.get());
    EXPECT_EQ(rows.size(), 5u) << "m" << i;
    for (const MemberRow& row : rows) EXPECT_EQ(row.epoch, 5) << "m" << i << " did not keep the configuration";
  }
  // The longest time without a successful write, overall and across each
  // change (the row docs/STATUS.md reports).
  std::vector<Clock::time_point> all;
  for (const auto& list : successes) all.insert(all.end(), list.begin(), list.end());
  std::sort(all.begin(), all.end());
  const auto longest_gap = [&](Clock::time_point from, Clock::time_point to) {
    int64_t longest = 0;
    for (size_t i = 1; i < all.size(); ++i) {
      if (all[i] < from || all[i - 1] > to) continue;
      longest = std::max<int64_t>(
          longest, std::chrono::duration_cast<milliseconds>(all[i] - all[i - 1]).count());
    }
    return longest;
  };
  int total_errors = 0;
  for (const int e : errors) total_errors += e;
  std::printf("membership under load: %zu grants, %d error replies\n", granted, total_errors);
  for (const Step& step : steps) {
    std::printf("  %-28s took %4lld ms; longest write gap %4lld ms\n", step.what.c_str(),
                static_cast<long long>(std::chrono::duration_cast<milliseconds>(step.end - step.start).count()),
                static_cast<long long>(longest_gap(step.start, step.end)));
  }
}

// The configuration a member adopted is in its dir: restarted with kill -9,
// a member removed from the configuration still knows it was removed, and
// the others still count two voters.
TEST(Membership, AChangeSurvivesKillingEveryMember) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  ASSERT_EQ(Change(*cluster, 0, {"MEMBERS", "REMOVE", Address(*cluster, 2)}), "OK");
  for (size_t i = 0; i < 3; ++i) cluster->Kill(i);
  for (size_t i = 0; i < 3; ++i) cluster->Restart(i);
  for (size_t i = 0; i < 3; ++i) {
    RedisPtr client = cluster->Connect(i);
    ASSERT_TRUE(client && client->err == 0);
    EXPECT_EQ(InfoField(client.get(), "cluster_epoch"), "2") << "m" << i;
    EXPECT_EQ(InfoField(client.get(), "cluster_voters"), "2") << "m" << i;
  }
  // The removed member serves no key (it hears no chosen values), but
  // still answers MEMBERS, where it is not listed.
  {
    RedisPtr removed = cluster->Connect(2);
    const std::string refused = Text(Command(removed.get(), {"GET", "k"}));
    EXPECT_EQ(refused.rfind("ERR this member (id 2) is not in the cluster's configuration (epoch 2)", 0), 0u)
        << refused;
    const std::vector<MemberRow> rows = Members(removed.get());
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].self + rows[1].self, 0);
  }
  // Two voters, so a write needs both: with m1 down, m0 cannot write.
  RedisPtr other = cluster->Connect(1);
  ASSERT_TRUE(WaitForInfoField(other.get(), "member_state", "ok"));
  RedisPtr client = cluster->Connect(0);
  ASSERT_TRUE(WaitForInfoField(client.get(), "member_state", "ok"));
  ReplyPtr granted = Command(client.get(), {"LOCK", "j", "a", "1000"});
  ASSERT_EQ(granted->type, REDIS_REPLY_INTEGER) << Text(granted);
  cluster->Stop(1);
  const std::string refused = Text(Command(client.get(), {"LOCK", "k", "a", "1000"}));
  EXPECT_EQ(refused.rfind("NOQUORUM", 0), 0u) << refused;
}

// The stop-every-member procedure for a new member list renumbers the
// members: every member, old (its configuration kept in dir) or new (an
// empty dir), must start from the new list's first configuration. Were the
// old members to keep theirs, old and new would count different voters
// under one epoch (two majorities that need not meet).
TEST(Membership, AMemberListChangedOnPurposeStartsEveryMemberFromTheNewList) {
  std::vector<int> ports;
  for (int i = 0; i < 4; ++i) ports.push_back(FreePort());
  const auto list_of = [&](size_t count) {
    std::string list;
    for (size_t i = 0; i < count; ++i) list += (i ? "," : "") + ("127.0.0.1:" + std::to_string(ports[i]));
    return list;
  };
  std::vector<std::string> dirs(4);
  const auto start = [&](size_t i, size_t count, bool changed) {
    std::vector<std::string> args = kFastClusterSettings;
    args.insert(args.end(), {"--cluster", list_of(count), "--cluster-secret", "a-long-enough-test-secret",
                             "--advertise", "127.0.0.1:" + std::to_string(ports[i])});
    if (changed) args.insert(args.end(), {"--cluster-list-changed", "yes"});
    auto process = LockerdProcess::Start({.args = args, .dir = dirs[i], .port = ports[i]});
    return process;
  };
  std::vector<std::unique_ptr<LockerdProcess>> members;
  for (size_t i = 0; i < 3; ++i) {
    char pattern[] = "/tmp/lockerd-list-XXXXXX";
    dirs[i] = mkdtemp(pattern);
    members.push_back(start(i, 3, false));
  }
  {
    RedisPtr client = members[0]->Connect();
    ASSERT_TRUE(WaitForInfoField(client.get(), "member_state", "ok"));
    std::string removed;
    for (int attempt = 0; attempt < 40 && removed != "OK"; ++attempt) {
      removed = Text(Command(client.get(), {"MEMBERS", "REMOVE", "127.0.0.1:" + std::to_string(ports[2])}));
      if (removed != "OK") std::this_thread::sleep_for(milliseconds(250));
    }
    ASSERT_EQ(removed, "OK");
    EXPECT_EQ(InfoField(client.get(), "cluster_epoch"), "2");
  }
  for (auto& member : members) EXPECT_EQ(member->Stop(SIGTERM), 0);
  members.clear();
  char pattern[] = "/tmp/lockerd-list-XXXXXX";
  dirs[3] = mkdtemp(pattern);
  for (size_t i = 0; i < 4; ++i) members.push_back(start(i, 4, i < 3));
  for (size_t i = 0; i < 4; ++i) {
    RedisPtr client = members[i]->Connect();
    ASSERT_TRUE(client && client->err == 0);
    // m3, with an empty dir, joins: it learns the configuration from the
    // others (cluster_epoch 0 until then).
    EXPECT_TRUE(WaitForInfoField(client.get(), "cluster_epoch", "1", std::chrono::seconds(10))) << "m" << i;
    EXPECT_EQ(InfoField(client.get(), "cluster_voters"), "4") << "m" << i;
  }
  for (auto& member : members) member->Stop(SIGTERM);
  for (const std::string& dir : dirs) std::filesystem::remove_all(dir);
}

// The attack on the member list's first configuration, on real processes:
// three voters shrink to one (m0); the two removed are wiped and started
// again with the member list while m0 is unreachable (paused). Taking the
// list's configuration they would be a majority of it, and grant what m0
// grants. They join instead: no configuration, no grant, until m0 tells
// them theirs; then MEMBERS ADD brings one back.
TEST(Membership, RemovedMembersStartedWithEmptyDirsNeverGrantBesideTheVoterLeft) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  EXPECT_EQ(Change(*cluster, 0, {"MEMBERS", "REMOVE", Address(*cluster, 1)}), "OK");
  EXPECT_EQ(Change(*cluster, 0, {"MEMBERS", "REMOVE", Address(*cluster, 2)}), "OK");
  RedisPtr left = cluster->Connect(0);
  const ReplyPtr held = Command(left.get(), {"LOCK", "k", "a", "1500"});
  ASSERT_EQ(held->type, REDIS_REPLY_INTEGER) << Text(held);
  const std::string epoch = InfoField(left.get(), "cluster_epoch");
  EXPECT_EQ(epoch, "3");
  for (const size_t i : {1, 2}) {
    cluster->Kill(i);
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(cluster->member(i).dir())) {
      std::filesystem::remove_all(entry.path(), ignored);  // Decommissioned: wiped.
    }
  }
  cluster->Pause(0);
  cluster->Restart(1);
  cluster->Restart(2);
  // Longer than a restart quarantine and the whole-cluster rule take here.
  const Clock::time_point until = Clock::now() + milliseconds(8000);
  RedisPtr wiped = cluster->Connect(1);
  while (Clock::now() < until) {
    const ReplyPtr other = Command(wiped.get(), {"LOCK", "k", "b", "1000"});
    ASSERT_NE(other, nullptr);
    // m0, paused, stands for a voter cut off that goes on granting.
    ASSERT_EQ(other->type, REDIS_REPLY_ERROR) << "m1 granted k (token " << other->integer << ") beside m0";
    EXPECT_EQ(std::string(other->str).rfind("TRYAGAIN", 0), 0u) << other->str;
    std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_EQ(InfoField(wiped.get(), "cluster_epoch"), "0");
  EXPECT_EQ(Text(Command(wiped.get(), {"MEMBERS"})).rfind("TRYAGAIN this member is joining", 0), 0u);
  cluster->Resume(0);
  EXPECT_TRUE(WaitForInfoField(wiped.get(), "cluster_epoch", epoch, std::chrono::seconds(10)))
      << cluster->member(1).Log();
  EXPECT_TRUE(Eventually([&] {
    return cluster->member(1).Log().find("Joined: the cluster's configuration is epoch 3") != std::string::npos;
  })) << cluster->member(1).Log();
  EXPECT_EQ(Text(Command(wiped.get(), {"LOCK", "k", "b", "1000"})).rfind("ERR this member (id 1) is not in", 0), 0u);
  // Back in the configuration (it lost its disk: a quarantine first).
  EXPECT_EQ(Change(*cluster, 0, {"MEMBERS", "ADD", Address(*cluster, 1)}), "OK");
  int64_t token = 0;
  for (int attempt = 0; attempt < 100 && token == 0; ++attempt) {
    const ReplyPtr again = Command(wiped.get(), {"LOCK", "k", "b", "1000"});
    if (again->type == REDIS_REPLY_INTEGER) token = again->integer;
    else std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_GT(token, held->integer) << "tokens grow through the wipe";
}

}  // namespace
}  // namespace lockerd::testing
