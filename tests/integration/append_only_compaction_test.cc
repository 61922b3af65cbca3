// appendonly yes on the real binary: the log is compacted as it grows
// (auto-aof-rewrite-min-size, auto-aof-rewrite-percentage), with writes
// going on while the snapshot is written off the loop, and a kill -9 after
// compactions loses nothing acknowledged.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

const std::vector<std::string> kCompactingLog = {
    "--appendonly", "yes", "--max-lease-ms", "600000", "--auto-aof-rewrite-min-size", "64kb"};

int64_t Integer(redisContext* client, const std::vector<std::string>& command) {
  ReplyPtr reply = Command(client, command);
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
    ADD_FAILURE() << command[0] << " " << command[1] << " answered no integer"
                  << (reply && reply->type == REDIS_REPLY_ERROR ? ": " + std::string(reply->str) : "");
    return -1;
  }
  return reply->integer;
}

TEST(AppendOnlyCompaction, TheLogIsCompactedUnderWritesAndLosesNothing) {
  auto first = LockerdProcess::Start({.args = kCompactingLog});
  RedisPtr client = first->Connect();
  ASSERT_TRUE(client && client->err == 0);
  // 300 leases held, then renewed (each renewal a record) and a churn of
  // short locks, until the log has been compacted several times.
  std::map<std::string, std::string> held;
  std::map<std::string, int64_t> tokens;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "held:" + std::to_string(i);
    held[key] = "owner-" + std::to_string(i);
    tokens[key] = Integer(client.get(), {"LOCK", key, held[key], "600000"});
  }
  int64_t largest = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int rounds = 0;
  while (std::stoll(InfoField(client.get(), "aof_rewrites")) < 3) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << first->Log();
    for (const auto& [key, owner] : held) {
      EXPECT_EQ(Integer(client.get(), {"EXTEND", key, owner, "600000"}), tokens[key]);
    }
    const std::string churn = "churn:" + std::to_string(rounds++);
    largest = std::max(largest, Integer(client.get(), {"LOCK", churn, "c", "600000"}));
    EXPECT_EQ(Integer(client.get(), {"RELEASE", churn, "c"}), 1);
  }
  ASSERT_TRUE(WaitForInfoField(client.get(), "aof_rewrite_in_progress", "0"));
  EXPECT_EQ(InfoField(client.get(), "aof_last_bgrewrite_status"), "ok");
  EXPECT_NE(first->Log().find("Rewrote "), std::string::npos);
  // Compacted: well under what all those records took.
  const auto size = std::filesystem::file_size(first->dir() + "/lockerd.aof");
  EXPECT_LT(size, 2 * 64 * 1024u + 64 * 1024u) << "the log did not shrink";
  EXPECT_EQ(std::to_string(size), InfoField(client.get(), "aof_current_size"));
  client.reset();
  ASSERT_EQ(first->Stop(SIGKILL), 128 + SIGKILL);

  auto second = LockerdProcess::Start({.args = kCompactingLog, .dir = first->dir()});
  RedisPtr again = second->Connect();
  ASSERT_TRUE(again && again->err == 0);
  EXPECT_EQ(InfoField(again.get(), "aof_loaded_at_start"), "1");
  for (const auto& [key, owner] : held) {
    ReplyPtr holder = Command(again.get(), {"GET", key});
    ASSERT_TRUE(holder && holder->type == REDIS_REPLY_STRING) << key << " lost";
    EXPECT_EQ(std::string(holder->str), owner);
  }
  EXPECT_EQ(Command(again.get(), {"EXISTS", "churn:0"})->integer, 0) << "released stays released";
  EXPECT_GT(Integer(again.get(), {"LOCK", "next", "n", "1000"}), largest);
}

}  // namespace
}  // namespace lockerd::testing
