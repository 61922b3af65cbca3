// appendonly yes with a full disk, on the real binaries: the data dir is a
// small tmpfs (mounted in a mount namespace of the server's own, with
// unshare) holding a ballast file; the test removes the ballast to give the
// space back. lockerd must answer as redis-server does in the same state
// (-MISCONF for writes and PING, reads served, EXECABORT), lose no
// acknowledged lock, and write again by itself once there is room.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/redis_server.h"

namespace lockerd::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kMisconf = "MISCONF Errors writing to the AOF file: No space left on device";

// A 512 KiB tmpfs on `dir` with all but 96 KiB taken by a ballast file;
// with `keep`, holding what `dir` held (a member restarting on it).
std::vector<std::string> SmallDiskWrapper(const std::string& dir, bool keep = false) {
  const std::string mount = "mount -t tmpfs -o size=512k tmpfs \"$0\"";
  const std::string ballast = "head -c 425984 /dev/zero > \"$0/ballast\" && exec \"$@\"";
  return {"unshare", "--mount", "--map-root-user", "--propagation", "private", "sh", "-c",
          keep ? "cp -a \"$0\" \"$0.kept\" && " + mount + " && cp -a \"$0.kept/.\" \"$0/\" && rm -r "
                     "\"$0.kept\" && " + ballast
               : mount + " && " + ballast,
          dir};
}

bool CanMountSmallDisks() {
  const ProcessResult result = RunProgram(
      {"unshare", "--mount", "--map-root-user", "--propagation", "private", "sh", "-c",
       "mount -t tmpfs -o size=64k tmpfs /tmp"});
  return result.exit_code == 0;
}

// The server's view of its data dir (its own mount namespace).
std::string SeenBy(pid_t pid, const std::string& dir) {
  return "/proc/" + std::to_string(pid) + "/root" + dir;
}

std::string Describe(const redisReply* reply) {
  if (reply == nullptr) return "(no reply)";
  switch (reply->type) {
    case REDIS_REPLY_STATUS: return "+" + std::string(reply->str, reply->len);
    case REDIS_REPLY_ERROR: return "-" + std::string(reply->str, reply->len);
    case REDIS_REPLY_STRING: return "$" + std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER: return ":" + std::to_string(reply->integer);
    case REDIS_REPLY_NIL: return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string text = "*[";
      for (size_t i = 0; i < reply->elements; ++i) text += Describe(reply->element[i]) + " ";
      return text + "]";
    }
    default: return "?" + std::to_string(reply->type);
  }
}

// Locks `fill:<i>` with a 1000-byte owner until the server answers
// -MISCONF. What it acknowledged goes in `acknowledged` (key -> owner). A
// connection closed under a write (lockerd: the reply waited on the failed
// sync) is opened again: that write's outcome is unknown.
template <typename Server>
bool FillUntilMisconf(const Server& server, RedisPtr* client,
                      std::map<std::string, std::string>* acknowledged) {
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "fill:" + std::to_string(i);
    const std::string owner = std::string(1000, static_cast<char>('a' + i % 26));
    ReplyPtr reply = Command(client->get(), {"SET", key, owner, "NX", "PX", "600000"});
    if (reply == nullptr) {
      *client = server.Connect();
      continue;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      EXPECT_EQ(std::string(reply->str), kMisconf);
      return true;
    }
    if (reply->type == REDIS_REPLY_STATUS) (*acknowledged)[key] = owner;
  }
  return false;
}

// What a client sees of a server that cannot write its log.
std::vector<std::string> RepliesWhileFull(redisContext* client) {
  std::vector<std::string> seen;
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"PING"},
           {"SET", "k", "v", "NX", "PX", "10000"},
           {"DEL", "fill:1"},
           {"GET", "fill:1"},
           {"EXISTS", "fill:2", "k"},
           {"ECHO", "still here"},
           {"MULTI"},
           {"SET", "k2", "v", "NX", "PX", "1000"},
           {"EXEC"},
           {"MULTI"},
           {"GET", "fill:3"},
           {"EXEC"},
       }) {
    ReplyPtr reply = Command(client, command);
    std::string text = Describe(reply.get());
    seen.push_back(command[0] + " -> " + text.substr(0, 80));
  }
  seen.push_back("aof_last_write_status:" + InfoField(client, "aof_last_write_status"));
  return seen;
}

class AppendOnlyDiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanMountSmallDisks()) {
      GTEST_SKIP() << "unshare cannot mount a tmpfs here (needs user or mount namespaces)";
    }
  }
  static std::string NewDir() {
    char pattern[] = "/tmp/lockerd-full-XXXXXX";
    return mkdtemp(pattern);
  }
};

TEST_F(AppendOnlyDiskFull, AnswersAsRedisDoes) {
  if (!RedisServerProcess::available()) GTEST_SKIP() << "redis-server is not installed";
  const std::string redis_dir = NewDir();
  auto redis = RedisServerProcess::Start(
      {.args = {"--appendonly", "yes", "--appendfsync", "everysec", "--dir", redis_dir},
       .wrapper = SmallDiskWrapper(redis_dir)});
  ASSERT_TRUE(redis);
  const std::string lockerd_dir = NewDir();
  auto lockerd = LockerdProcess::Start(
      {.args = {"--appendonly", "yes", "--max-lease-ms", "600000"},
       .dir = lockerd_dir,
       .wrapper = SmallDiskWrapper(lockerd_dir)});
  ASSERT_TRUE(lockerd);

  RedisPtr redis_client = redis->Connect();
  RedisPtr lockerd_client = lockerd->Connect();
  std::map<std::string, std::string> redis_acked;
  std::map<std::string, std::string> lockerd_acked;
  ASSERT_TRUE(FillUntilMisconf(*redis, &redis_client, &redis_acked));
  ASSERT_TRUE(FillUntilMisconf(*lockerd, &lockerd_client, &lockerd_acked)) << lockerd->Log();
  ASSERT_GT(redis_acked.size(), 3u);
  ASSERT_GT(lockerd_acked.size(), 3u);
  EXPECT_EQ(RepliesWhileFull(lockerd_client.get()), RepliesWhileFull(redis_client.get()));
  EXPECT_NE(lockerd->Log().find("Cannot make changes durable"), std::string::npos) << lockerd->Log();

  // Space comes back: both write again by themselves.
  for (const auto& [pid, dir] : {std::pair{redis->pid(), redis_dir}, {lockerd->pid(), lockerd_dir}}) {
    ASSERT_TRUE(fs::remove(SeenBy(pid, dir) + "/ballast"));
  }
  EXPECT_TRUE(WaitForInfoField(redis_client.get(), "aof_last_write_status", "ok"));
  EXPECT_TRUE(WaitForInfoField(lockerd_client.get(), "aof_last_write_status", "ok"));
  for (redisContext* client : {redis_client.get(), lockerd_client.get()}) {
    EXPECT_EQ(Describe(Command(client, {"SET", "after", "v", "NX", "PX", "10000"}).get()), "+OK");
    EXPECT_EQ(Describe(Command(client, {"PING"}).get()), "+PONG");
  }
  EXPECT_NE(lockerd->Log().find("The append-only log is written again"), std::string::npos);
  redis.reset();
  lockerd.reset();
  fs::remove_all(redis_dir);
  fs::remove_all(lockerd_dir);
}

TEST_F(AppendOnlyDiskFull, NoAcknowledgedLockIsLostAndTokensKeepGrowing) {
  const std::string dir = NewDir();
  auto lockerd = LockerdProcess::Start({.args = {"--appendonly", "yes", "--max-lease-ms", "600000"},
                                        .dir = dir,
                                        .wrapper = SmallDiskWrapper(dir)});
  ASSERT_TRUE(lockerd);
  RedisPtr client = lockerd->Connect();
  std::map<std::string, std::string> acked;
  // LOCK answers its token: the largest acknowledged one, for later.
  int64_t largest_token = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "lock:" + std::to_string(i);
    const std::string owner = std::string(1500, static_cast<char>('a' + i % 26));
    ReplyPtr reply = Command(client.get(), {"LOCK", key, owner, "600000"});
    if (reply == nullptr) {
      client = lockerd->Connect();
      continue;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      ASSERT_EQ(std::string(reply->str), kMisconf);
      break;
    }
    ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
    acked[key] = owner;
    largest_token = std::max<int64_t>(largest_token, reply->integer);
  }
  ASSERT_GT(acked.size(), 3u);
  // While full: every acknowledged lock reads back, none can be taken or
  // released, and the INFO fields say why.
  for (const auto& [key, owner] : acked) {
    ReplyPtr holder = Command(client.get(), {"GET", key});
    ASSERT_TRUE(holder && holder->type == REDIS_REPLY_STRING) << key;
    EXPECT_EQ(std::string(holder->str, holder->len), owner);
  }
  EXPECT_EQ(Describe(Command(client.get(), {"RELEASE", acked.begin()->first, acked.begin()->second}).get()),
            "-" + std::string(kMisconf));
  EXPECT_EQ(InfoField(client.get(), "aof_last_write_error"), "No space left on device");
  // Room again: writes resume, and the next token is above every one given.
  ASSERT_TRUE(fs::remove(SeenBy(lockerd->pid(), dir) + "/ballast"));
  ASSERT_TRUE(WaitForInfoField(client.get(), "aof_last_write_status", "ok"));
  ReplyPtr next = Command(client.get(), {"LOCK", "after-recovery", "me", "600000"});
  ASSERT_TRUE(next && next->type == REDIS_REPLY_INTEGER) << Describe(next.get());
  EXPECT_GT(next->integer, largest_token);
  acked["after-recovery"] = "me";

  // A crash now: the files as they are, started again from a copy.
  const std::string copy = NewDir();
  for (const fs::directory_entry& entry : fs::directory_iterator(SeenBy(lockerd->pid(), dir))) {
    fs::copy(entry.path(), fs::path(copy) / entry.path().filename());
  }
  ASSERT_EQ(lockerd->Stop(SIGKILL), 128 + SIGKILL);
  auto restarted = LockerdProcess::Start({.args = {"--appendonly", "yes", "--max-lease-ms", "600000"},
                                          .dir = copy});
  ASSERT_TRUE(restarted);
  RedisPtr again = restarted->Connect();
  EXPECT_EQ(InfoField(again.get(), "aof_loaded_at_start"), "1");
  for (const auto& [key, owner] : acked) {
    ReplyPtr holder = Command(again.get(), {"GET", key});
    ASSERT_TRUE(holder && holder->type == REDIS_REPLY_STRING) << key << " lost";
    EXPECT_EQ(std::string(holder->str, holder->len), owner);
  }
  ReplyPtr after = Command(again.get(), {"LOCK", "after-restart", "me", "600000"});
  ASSERT_TRUE(after && after->type == REDIS_REPLY_INTEGER) << Describe(after.get());
  EXPECT_GT(after->integer, next->integer);
  restarted.reset();
  lockerd.reset();
  fs::remove_all(dir);
  fs::remove_all(copy);
}

// A member of three whose disk fills: it refuses writes and stands apart
// from rounds (the others go on as a majority of two), serves reads, and
// takes part again once it has room; no lock is ever held twice.
TEST_F(AppendOnlyDiskFull, AMemberWithAFullDiskStandsApartAndComesBack) {
  // Leases outlast the test: nothing here may be freed by time.
  const std::vector<std::string> args = {"--appendonly", "yes", "--max-lease-ms", "600000"};
  auto cluster = LockerdCluster::Start(3, args);
  ASSERT_TRUE(cluster);
  const std::string dir = cluster->member(0).dir();
  cluster->Kill(0);
  cluster->RestartWith(0, args, {}, SmallDiskWrapper(dir, /*keep=*/true));
  RedisPtr full = cluster->member(0).Connect();
  RedisPtr other = cluster->member(1).Connect();
  ASSERT_TRUE(WaitForInfoField(full.get(), "aof_loaded_at_start", "1"));
  std::map<std::string, std::string> acked;
  int64_t largest_token = 0;
  bool refused = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  for (int i = 0; !refused && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::string key = "lock:" + std::to_string(i);
    const std::string owner = std::string(1500, static_cast<char>('a' + i % 26));
    ReplyPtr reply = Command(full.get(), {"LOCK", key, owner, "60000"});
    if (reply == nullptr) {
      full = cluster->member(0).Connect();
    } else if (reply->type == REDIS_REPLY_ERROR) {
      // NOQUORUM while the links come up is fine; MISCONF ends it.
      const std::string error = reply->str;
      refused = error == kMisconf;
      ASSERT_TRUE(refused || error.rfind("NOQUORUM", 0) == 0) << error;
    } else if (reply->type == REDIS_REPLY_INTEGER) {
      acked[key] = owner;
      largest_token = std::max<int64_t>(largest_token, reply->integer);
    }
  }
  ASSERT_TRUE(refused) << cluster->member(0).Log();
  ASSERT_GT(acked.size(), 3u);
  // The other two go on; none of the locks acknowledged can be taken.
  ReplyPtr through_other = Command(other.get(), {"LOCK", "through-other", "o", "60000"});
  ASSERT_TRUE(through_other && through_other->type == REDIS_REPLY_INTEGER)
      << Describe(through_other.get());
  EXPECT_GT(through_other->integer, largest_token);
  for (const auto& [key, owner] : acked) {
    ReplyPtr steal = Command(other.get(), {"LOCK", key, "thief", "60000"});
    ASSERT_TRUE(steal != nullptr);
    EXPECT_EQ(steal->type, REDIS_REPLY_NIL) << key << ": " << Describe(steal.get());
  }
  ReplyPtr holder = Command(full.get(), {"GET", acked.begin()->first});
  ASSERT_TRUE(holder && holder->type == REDIS_REPLY_STRING) << Describe(holder.get());
  // Room again: the member writes its log and coordinates rounds again.
  ASSERT_TRUE(fs::remove(SeenBy(cluster->member(0).pid(), dir) + "/ballast"));
  ASSERT_TRUE(WaitForInfoField(full.get(), "aof_last_write_status", "ok"));
  ReplyPtr back = nullptr;
  for (int attempt = 0; attempt < 50; ++attempt) {
    back = Command(full.get(), {"LOCK", "after-recovery", "me", "60000"});
    if (back && back->type == REDIS_REPLY_INTEGER) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(back && back->type == REDIS_REPLY_INTEGER) << Describe(back.get());
  EXPECT_GT(back->integer, through_other->integer);
  for (const auto& [key, owner] : acked) {
    ReplyPtr steal = Command(full.get(), {"LOCK", key, "thief", "60000"});
    ASSERT_TRUE(steal != nullptr);
    EXPECT_EQ(steal->type, REDIS_REPLY_NIL) << key << ": " << Describe(steal.get());
  }
}

}  // namespace
}  // namespace lockerd::testing
