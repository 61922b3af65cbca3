// appendonly yes on the real binary: a kill -9 costs no quarantine and
// loses no lease or token; a torn tail is cut and said; damage before the
// tail refuses the start; a log an appendonly run did not leave is never
// read (switching appendonly off, then crashing, quarantines as before).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

const std::vector<std::string> kAppendOnly = {"--appendonly", "yes", "--max-lease-ms", "60000"};

int64_t Token(redisContext* client, const std::string& key, const std::string& owner) {
  ReplyPtr reply = Command(client, {"LOCK", key, owner, "60000"});
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
    ADD_FAILURE() << "LOCK " << key << " answered no token";
    return -1;
  }
  return reply->integer;
}

std::string Holder(redisContext* client, const std::string& key) {
  ReplyPtr reply = Command(client, {"GET", key});
  return reply != nullptr && reply->type == REDIS_REPLY_STRING ? reply->str : "";
}

class AppendOnly : public ::testing::Test {
 protected:
  // A member that granted leases, released one, and was killed with -9.
  void CrashAfterWrites() {
    first_ = LockerdProcess::Start({.args = kAppendOnly});
    RedisPtr client = first_->Connect();
    ASSERT_TRUE(client && client->err == 0);
    for (const char* key : {"alpha", "beta", "gamma"}) {
      largest_token_ = std::max(largest_token_, Token(client.get(), key, std::string(key) + "-owner"));
    }
    largest_token_ = std::max(largest_token_, Token(client.get(), "released", "x"));
    ASSERT_EQ(Command(client.get(), {"RELEASE", "released", "x"})->integer, 1);
    ASSERT_EQ(InfoField(client.get(), "aof_enabled"), "1");
    client.reset();
    ASSERT_EQ(first_->Stop(SIGKILL), 128 + SIGKILL);
  }
  std::string LogPath() const { return first_->dir() + "/lockerd.aof"; }

  std::unique_ptr<LockerdProcess> first_;
  int64_t largest_token_ = 0;
};

TEST_F(AppendOnly, AKillNineCostsNoQuarantineAndLosesNoLease) {
  CrashAfterWrites();
  auto second = LockerdProcess::Start({.args = kAppendOnly, .dir = first_->dir()});
  RedisPtr client = second->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok") << second->Log();
  EXPECT_EQ(InfoField(client.get(), "unclean_previous_stop"), "0");
  EXPECT_EQ(InfoField(client.get(), "aof_loaded_at_start"), "1");
  for (const char* key : {"alpha", "beta", "gamma"}) {
    EXPECT_EQ(Holder(client.get(), key), std::string(key) + "-owner") << key << " lost its lease";
    EXPECT_EQ(Command(client.get(), {"LOCK", key, "intruder", "1000"})->type, REDIS_REPLY_NIL) << key;
  }
  EXPECT_GT(Token(client.get(), "released", "y"), largest_token_) << "a token was given again";
  EXPECT_GT(Token(client.get(), "new", "y"), largest_token_);
  EXPECT_NE(second->Log().find("the last run logged every change"), std::string::npos) << second->Log();
}

TEST_F(AppendOnly, ATornTailIsCutOffAndSaid) {
  CrashAfterWrites();
  {
    // A crash mid-append leaves the start of a record: a whole header and
    // part of its payload (here the start of the log's first record).
    std::ifstream in(LogPath(), std::ios::binary);
    std::string start(30, '\0');
    in.read(start.data(), static_cast<std::streamsize>(start.size()));
    std::ofstream log(LogPath(), std::ios::binary | std::ios::app);
    log << start;
  }
  auto second = LockerdProcess::Start({.args = kAppendOnly, .dir = first_->dir()});
  RedisPtr client = second->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok");
  EXPECT_EQ(Holder(client.get(), "alpha"), "alpha-owner");
  EXPECT_NE(second->Log().find("cut off a torn tail"), std::string::npos) << second->Log();
}

TEST_F(AppendOnly, DamageBeforeTheTailRefusesTheStart) {
  CrashAfterWrites();
  {
    std::fstream log(LogPath(), std::ios::binary | std::ios::in | std::ios::out);
    log.seekp(40);  // Inside the first record: later ones were synced.
    log.put('#');
  }
  auto second = LockerdProcess::Start({.args = kAppendOnly, .dir = first_->dir(), .wait_ready = false});
  const std::optional<int> status = second->Stop(0, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "it started on a damaged log";
  EXPECT_NE(*status, 0);
  EXPECT_NE(second->Log().find("damaged record at byte 0"), std::string::npos) << second->Log();
  EXPECT_NE(second->Log().find("Move the file away"), std::string::npos) << second->Log();
}

// Switching appendonly off after a crash: the log is read once, then
// removed, so that the next crash (without a log) quarantines instead of
// restarting from an older state.
TEST_F(AppendOnly, ALogIsReadOnlyAfterTheRunThatWroteIt) {
  CrashAfterWrites();
  auto second = LockerdProcess::Start({.args = {"--max-lease-ms", "500"}, .dir = first_->dir()});
  {
    RedisPtr client = second->Connect();
    ASSERT_TRUE(client && client->err == 0);
    EXPECT_EQ(InfoField(client.get(), "member_state"), "ok");
    EXPECT_EQ(Holder(client.get(), "alpha"), "alpha-owner");
    EXPECT_FALSE(std::filesystem::exists(LogPath())) << "a run without the log left it";
  }
  ASSERT_EQ(second->Stop(SIGKILL), 128 + SIGKILL);
  auto third = LockerdProcess::Start({.args = {"--max-lease-ms", "500"}, .dir = first_->dir()});
  RedisPtr client = third->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_EQ(InfoField(client.get(), "unclean_previous_stop"), "1") << third->Log();
}

// Every member of a 3-member cluster killed with -9 while clients write
// through all three: after the restart no acknowledged lock is lost, no
// token is given twice, and writes succeed within a second of the members
// being back (no quarantine).
TEST(AppendOnlyCluster, KillingEveryMemberUnderLoadLosesNoAcknowledgedLock) {
  auto cluster = LockerdCluster::Start(
      3, {"--appendonly", "yes", "--max-lease-ms", "60000", "--round-timeout-ms", "300"});
  struct Acked {
    std::string key;
    std::string owner;
    int64_t token;
  };
  std::mutex mutex;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (size_t member = 0; member < 3; ++member) {
    writers.emplace_back([&, member] {
      RedisPtr client = cluster->Connect(member);
      for (int i = 0; !stop && client && client->err == 0; ++i) {
        const std::string key = "m" + std::to_string(member) + ":" + std::to_string(i);
        const std::string owner = "o" + key;
        ReplyPtr reply = Command(client.get(), {"LOCK", key, owner, "60000"});
        if (reply == nullptr) break;  // The member is gone.
        if (reply->type != REDIS_REPLY_INTEGER) continue;
        std::lock_guard<std::mutex> lock(mutex);
        acked.push_back({key, owner, reply->integer});
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (size_t member = 0; member < 3; ++member) cluster->Kill(member);
  stop = true;
  for (std::thread& writer : writers) writer.join();
  ASSERT_GT(acked.size(), 10u) << "too little load to mean anything";
  int64_t largest = 0;
  for (const Acked& a : acked) largest = std::max(largest, a.token);

  for (size_t member = 0; member < 3; ++member) cluster->Restart(member);
  // From when every member answers again: without the log they would sit
  // out a 60 s quarantine; with it, a write goes through at once (the
  // issue asks for a second; 5 s leaves room for a loaded machine).
  const auto back = std::chrono::steady_clock::now();
  RedisPtr client = cluster->Connect(1);
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr fresh;
  do {
    fresh = Command(client.get(), {"LOCK", "after", "me", "60000"});
  } while (fresh && fresh->type != REDIS_REPLY_INTEGER &&
           std::chrono::steady_clock::now() - back < std::chrono::seconds(10));
  ASSERT_TRUE(fresh && fresh->type == REDIS_REPLY_INTEGER);
  EXPECT_LT(std::chrono::steady_clock::now() - back, std::chrono::seconds(5))
      << "writes waited out something like a quarantine";
  EXPECT_GT(fresh->integer, largest) << "a token was given again after the crash";
  for (size_t member = 0; member < 3; ++member) {
    RedisPtr each = cluster->Connect(member);
    EXPECT_EQ(InfoField(each.get(), "member_state"), "ok") << member;
    EXPECT_EQ(InfoField(each.get(), "aof_loaded_at_start"), "1") << member;
  }
  for (const Acked& a : acked) {
    ReplyPtr taken = Command(client.get(), {"LOCK", a.key, "intruder", "1000"});
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->type, REDIS_REPLY_NIL) << a.key << " (token " << a.token << ") was lost";
  }
}

}  // namespace
}  // namespace lockerd::testing
