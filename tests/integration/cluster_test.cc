// A cluster of real lockerd processes on loopback, driven with hiredis: the
// scenarios of locker's own test suite, and members that die, pause and
// come back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/reply_text.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool EveryMemberReads(LockerdCluster& cluster, const std::string& key, const std::string& owner) {
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (!cluster.member(i).Running()) continue;
    RedisPtr client = cluster.Connect(i);
    const bool ok = Eventually([&] { return Text(Command(client.get(), {"GET", key})) == owner; });
    if (!ok) return false;
  }
  return true;
}

TEST(Cluster, ConcurrentLocksThroughDifferentMembersHaveOneWinner) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  for (int round = 0; round < 10; ++round) {
    const std::string key = "k" + std::to_string(round);
    RedisPtr a = cluster->Connect(0);
    RedisPtr b = cluster->Connect(1);
    ASSERT_TRUE(SendCommand(a.get(), {"LOCK", key, "a", "1000"}));
    ASSERT_TRUE(SendCommand(b.get(), {"LOCK", key, "b", "1000"}));
    ReplyPtr reply_a = GetReply(a.get());
    ReplyPtr reply_b = GetReply(b.get());
    // Contention may cost a round both ways (-NOQUORUM after retries), but
    // never two winners.
    const bool a_won = reply_a && reply_a->type == REDIS_REPLY_INTEGER;
    const bool b_won = reply_b && reply_b->type == REDIS_REPLY_INTEGER;
    ASSERT_FALSE(a_won && b_won) << key << ": both won";
    if (a_won || b_won) {
      EXPECT_TRUE(EveryMemberReads(*cluster, key, a_won ? "a" : "b")) << key;
    }
  }
}

TEST(Cluster, KeysAndOwnersAtMaxKeyBytesCrossTheCluster) {
  // A commit carries the key and the owner: 1.2 MB in one peer message, over
  // the 1 MB a client's bulk may have, still goes through.
  auto cluster = LockerdCluster::Start(3, {"--max-key-bytes", "600000"});
  const std::string key(600000, 'k');
  const std::string owner(600000, 'o');
  RedisPtr client = cluster->Connect(0);
  ReplyPtr token = Command(client.get(), {"LOCK", key, owner, "5000"});
  ASSERT_EQ(token->type, REDIS_REPLY_INTEGER) << Text(token);
  EXPECT_EQ(Command(client.get(), {"RELEASE", key, owner})->integer, 1);
  RedisPtr other = cluster->Connect(1);
  EXPECT_EQ(Command(other.get(), {"LOCK", key, "next", "5000"})->type, REDIS_REPLY_INTEGER);
}

TEST(Cluster, LockWorksWithOneMemberDown) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  cluster->Kill(2);
  RedisPtr client = cluster->Connect(0);
  ReplyPtr token = Command(client.get(), {"LOCK", "k", "me", "1000"});
  ASSERT_EQ(token->type, REDIS_REPLY_INTEGER) << Text(token);
  EXPECT_EQ(Command(client.get(), {"RELEASE", "k", "me"})->integer, 1);
  RedisPtr other = cluster->Connect(1);
  EXPECT_EQ(Command(other.get(), {"LOCK", "k", "you", "1000"})->type, REDIS_REPLY_INTEGER);
}

TEST(Cluster, MajorityDownAnswersNoQuorumAndLeavesNothingHeld) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  cluster->Kill(1);
  cluster->Kill(2);
  RedisPtr client = cluster->Connect(0);
  ReplyPtr refused = Command(client.get(), {"LOCK", "k", "me", "1000"});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Text(refused).rfind("NOQUORUM", 0), 0u) << Text(refused);
  EXPECT_EQ(Text(Command(client.get(), {"GET", "k"})), "(nil)");
  // The others come back (after their quarantine): nothing was left held.
  cluster->Restart(1);
  cluster->Restart(2);
  RedisPtr other = cluster->Connect(1);
  EXPECT_TRUE(Eventually(
      [&] {
        ReplyPtr token = Command(other.get(), {"LOCK", "k", "you", "1000"});
        return token && token->type == REDIS_REPLY_INTEGER;
      },
      milliseconds(8000)));
}

TEST(Cluster, ReleaseWithMajorityDownIsNoQuorumAndTheLockStays) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr client = cluster->Connect(0);
  ASSERT_EQ(Command(client.get(), {"LOCK", "k", "me", "1500"})->type, REDIS_REPLY_INTEGER);
  cluster->Kill(1);
  cluster->Kill(2);
  // Once this member knows the majority is gone, the release does not even
  // change its own register (it runs a full round, whose promises fail).
  ASSERT_TRUE(Eventually([&] {
    return Text(Command(client.get(), {"INFO", "cluster"})).find("cluster_reachable_members:1") !=
           std::string::npos;
  }));
  ReplyPtr refused = Command(client.get(), {"RELEASE", "k", "me"});
  EXPECT_EQ(Text(refused).rfind("NOQUORUM", 0), 0u) << Text(refused);
  EXPECT_EQ(Text(Command(client.get(), {"GET", "k"})), "me") << "still readable here";
}

TEST(Cluster, ExtendKeepsTheLockAlivePastItsFirstTtlEverywhere) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr client = cluster->Connect(0);
  const int64_t token = Command(client.get(), {"LOCK", "k", "me", "400"})->integer;
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(Command(client.get(), {"EXTEND", "k", "me", "1500"})->integer, token);
  std::this_thread::sleep_for(milliseconds(400));  // Past the first ttl.
  for (size_t i = 0; i < 3; ++i) {
    RedisPtr member = cluster->Connect(i);
    EXPECT_EQ(Text(Command(member.get(), {"GET", "k"})), "me") << "member " << i;
    EXPECT_GT(Command(member.get(), {"PTTL", "k"})->integer, 0) << "member " << i;
  }
}

TEST(Cluster, LeasesExpireOnEveryMember) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr client = cluster->Connect(1);
  ASSERT_EQ(Command(client.get(), {"LOCK", "k", "me", "1000"})->type, REDIS_REPLY_INTEGER);
  EXPECT_TRUE(EveryMemberReads(*cluster, "k", "me"));
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_TRUE(EveryMemberReads(*cluster, "k", "(nil)"));
  RedisPtr other = cluster->Connect(2);
  EXPECT_EQ(Command(other.get(), {"LOCK", "k", "you", "1000"})->type, REDIS_REPLY_INTEGER);
}

TEST(Cluster, WaitOnOneMemberIsWokenByReleaseThroughAnother) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr holder = cluster->Connect(0);
  RedisPtr observer = cluster->Connect(1);
  RedisPtr acquirer = cluster->Connect(2);
  const int64_t first = Command(holder.get(), {"LOCK", "k", "a", "1500"})->integer;
  ASSERT_TRUE(EveryMemberReads(*cluster, "k", "a"));
  ASSERT_TRUE(SendCommand(observer.get(), {"WAIT", "k", "3000"}));
  ASSERT_TRUE(SendCommand(acquirer.get(), {"LOCK", "k", "b", "1500", "WAIT", "3000"}));
  RedisPtr probe1 = cluster->Connect(1);
  RedisPtr probe2 = cluster->Connect(2);
  ASSERT_TRUE(WaitForInfoField(probe1.get(), "waiting_clients", "1"));
  ASSERT_TRUE(WaitForInfoField(probe2.get(), "waiting_clients", "1"));
  const auto released = Clock::now();
  ASSERT_EQ(Command(holder.get(), {"RELEASE", "k", "a"})->integer, 1);
  ReplyPtr woken = GetReply(observer.get());
  ReplyPtr acquired = GetReply(acquirer.get());
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - released);
  EXPECT_EQ(Text(woken), "1");
  ASSERT_EQ(acquired->type, REDIS_REPLY_INTEGER) << Text(acquired);
  EXPECT_GT(acquired->integer, first);
  EXPECT_LT(waited.count(), 1000) << "woken by the release, not by a timeout";
}

TEST(Cluster, UpdateChangesTheOwnerEverywhere) {
  auto cluster = LockerdCluster::Start(3, kFastClusterSettings);
  RedisPtr client = cluster->Connect(2);
  const int64_t token = Command(client.get(), {"LOCK", "k", "old", "1500"})->integer;
  EXPECT_EQ(Command(client.get(), {"UPDATE", "k", "old", "new"})->integer, token);
  EXPECT_TRUE(EveryMemberReads(*cluster, "k", "new"));
  RedisPtr other = cluster->Connect(0);
  EXPECT_EQ(Command(other.get(), {"RELEASE", "k", "old"})->integer, 0);
  EXPECT_EQ(Command(other.get(), {"RELEASE", "k", "new"})->integer, 1);
}

TEST(Cluster, FiveMembersTolerateTwoDownButNotThree) {
  auto cluster = LockerdCluster::Start(5, kFastClusterSettings);
  cluster->Kill(3);
  cluster->Kill(4);
  RedisPtr client = cluster->Connect(0);
  EXPECT_EQ(Command(client.get(), {"LOCK", "k", "me", "1000"})->type, REDIS_REPLY_INTEGER);
  cluster->Kill(2);
  EXPECT_EQ(Text(Command(client.get(), {"LOCK", "j", "me", "1000"})).rfind("NOQUORUM", 0), 0u);
}

}  // namespace
}  // namespace lockerd::testing
