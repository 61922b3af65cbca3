// Restarts on the same --dir: a clean stop (SIGTERM) keeps the leases and
// the token counter; an unclean one (SIGKILL) makes the member refuse lock
// writes with -TRYAGAIN for max-lease-ms, then serve with larger tokens; a
// first start on an empty dir serves at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A data dir that outlives one server process; removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lockerd-restart-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::unique_ptr<LockerdProcess> StartIn(const TempDir& dir, std::vector<std::string> args = {}) {
  return LockerdProcess::Start({.args = std::move(args), .dir = dir.path()});
}

struct LeaseSeen {
  std::string owner;
  int64_t token = 0;
  int64_t remaining_ms = 0;
};

// LOCKINFO in RESP2: owner, token, remaining_ms (empty owner if not held).
LeaseSeen LockInfo(redisContext* client, const std::string& key) {
  ReplyPtr reply = Command(client, {"LOCKINFO", key});
  LeaseSeen seen;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 6) return seen;
  seen.owner = reply->element[1]->str;
  seen.token = reply->element[3]->integer;
  seen.remaining_ms = reply->element[5]->integer;
  return seen;
}

int64_t LockToken(redisContext* client, const std::string& key, const std::string& owner,
                  const std::string& ttl_ms) {
  ReplyPtr reply = Command(client, {"LOCK", key, owner, ttl_ms});
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
    ADD_FAILURE() << "LOCK " << key << " did not answer a token"
                  << (reply && reply->str ? std::string(": ") + reply->str : std::string());
    return -1;
  }
  return reply->integer;
}

TEST(Restart, CleanStopKeepsLeasesAndTokensKeepGrowing) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> keys = {"alpha", "beta", "gamma"};
  std::vector<LeaseSeen> before;
  int64_t largest_token = 0;
  {
    auto server = StartIn(dir);
    RedisPtr client = server->Connect();
    ASSERT_TRUE(client && client->err == 0);
    for (const std::string& key : keys) {
      const int64_t token = LockToken(client.get(), key, key + "-owner", "30000");
      largest_token = std::max(largest_token, token);
    }
    // A released key's token still counts: the next one must be larger.
    largest_token = std::max(largest_token, LockToken(client.get(), "released", "x", "30000"));
    ASSERT_EQ(Command(client.get(), {"RELEASE", "released", "x"})->integer, 1);
    for (const std::string& key : keys) before.push_back(LockInfo(client.get(), key));
    client.reset();
    EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
  }

  auto server = StartIn(dir);
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok") << "a clean stop must not quarantine";
  for (size_t i = 0; i < keys.size(); ++i) {
    const LeaseSeen after = LockInfo(client.get(), keys[i]);
    EXPECT_EQ(after.owner, before[i].owner) << keys[i] << " lost its lease";
    EXPECT_EQ(after.token, before[i].token) << keys[i];
    EXPECT_GT(after.remaining_ms, 0) << keys[i];
    EXPECT_LT(after.remaining_ms, before[i].remaining_ms) << keys[i] << ": the lease did not age";
    ReplyPtr taken = Command(client.get(), {"LOCK", keys[i], "intruder", "5000"});
    EXPECT_EQ(taken->type, REDIS_REPLY_NIL) << keys[i] << " was free after the restart";
  }
  EXPECT_GT(LockToken(client.get(), "released", "y", "5000"), largest_token);
  EXPECT_GT(LockToken(client.get(), "new-key", "y", "5000"), largest_token);
  // The holder can still extend and release its lease.
  EXPECT_EQ(Command(client.get(), {"EXTEND", "alpha", "alpha-owner", "30000"})->integer,
            before[0].token);
  EXPECT_EQ(Command(client.get(), {"RELEASE", "beta", "beta-owner"})->integer, 1);
}

TEST(Restart, UncleanStopQuarantinesThenServesLargerTokens) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> args = {"--max-lease-ms", "500"};
  int64_t token_before = 0;
  {
    auto server = StartIn(dir, args);
    RedisPtr client = server->Connect();
    ASSERT_TRUE(client && client->err == 0);
    token_before = LockToken(client.get(), "k", "me", "500");
    EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
  }

  const auto restarted = Clock::now();
  auto server = StartIn(dir, args);
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  ReplyPtr refused = Command(client.get(), {"LOCK", "other", "me", "500"});
  ASSERT_NE(refused, nullptr);
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR) << "LOCK was served right after a crash";
  EXPECT_EQ(std::string(refused->str).rfind("TRYAGAIN", 0), 0u) << refused->str;
  EXPECT_EQ(InfoField(client.get(), "member_state"), "quarantine");
  EXPECT_EQ(InfoField(client.get(), "unclean_previous_stop"), "1");

  // The quarantine lasts max-lease-ms (500 ms); allow a slow machine more.
  ReplyPtr granted;
  while (Clock::now() - restarted < std::chrono::seconds(10)) {
    granted = Command(client.get(), {"LOCK", "k", "after", "500"});
    ASSERT_NE(granted, nullptr);
    if (granted->type != REDIS_REPLY_ERROR) break;
    ASSERT_EQ(std::string(granted->str).rfind("TRYAGAIN", 0), 0u) << granted->str;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto waited = Clock::now() - restarted;
  ASSERT_EQ(granted->type, REDIS_REPLY_INTEGER) << "still refusing after 10 s";
  EXPECT_GT(granted->integer, token_before) << "the token counter went backwards";
  EXPECT_LT(waited, std::chrono::seconds(3)) << "the quarantine outlasted max-lease-ms by far";
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok");
}

TEST(Restart, FirstStartOnAnEmptyDirServesAtOnce) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto server = StartIn(dir);
  RedisPtr client = server->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_GT(LockToken(client.get(), "k", "me", "5000"), 0);
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok");
  EXPECT_EQ(InfoField(client.get(), "unclean_previous_stop"), "0");
}

// The configuration a member adopted (and what it voted for in the
// configuration register) is in its dir from the first start on, and
// survives a kill -9. A start that cannot read it stops, naming the file,
// rather than fall back to the member list's first configuration: a member
// that forgot a change it voted for could help choose another.
TEST(Restart, TheConfigurationIsKeptAndADamagedOneStopsTheStart) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> args = {"--max-lease-ms", "500"};
  const std::string file = dir.path() + "/lockerd.membership";
  std::string written;
  {
    auto server = StartIn(dir, args);
    ASSERT_TRUE(std::filesystem::exists(file)) << "not written at the first start";
    written = ReadFile(file);
    EXPECT_NE(written.find("lockerd-membership"), std::string::npos);
    EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
  }
  {
    auto server = StartIn(dir, args);
    EXPECT_EQ(ReadFile(file), written) << "a restart changed a configuration nothing changed";
    // Past its restart quarantine, so the next clean start serves at once.
    RedisPtr client = server->Connect();
    ASSERT_TRUE(WaitForInfoField(client.get(), "member_state", "ok"));
  }
  std::ofstream(file, std::ios::trunc) << written.substr(0, written.size() / 2);
  auto damaged = LockerdProcess::Start({.args = args, .dir = dir.path(), .wait_ready = false});
  const std::optional<int> status = damaged->Stop(0, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "started with a damaged configuration file";
  EXPECT_NE(*status, 0);
  EXPECT_NE(damaged->Log().find("Cannot start: " + file), std::string::npos) << damaged->Log();
  std::ofstream(file, std::ios::trunc) << written;
  auto restored = StartIn(dir, args);
  RedisPtr client = restored->Connect();
  ASSERT_TRUE(client && client->err == 0);
  EXPECT_EQ(InfoField(client.get(), "member_state"), "ok") << "the failed start changed what the last stop left";
  EXPECT_GT(LockToken(client.get(), "k", "me", "500"), 0);
}

}  // namespace
}  // namespace lockerd::testing
