// ACL users on the real binary: users from a config file (and --user flags
// for a cluster), driven by hiredis and redis-cli --user/--pass and -a.
// AUTH and HELLO 3 AUTH switch user; WRONGPASS for a bad password and for
// a disabled user; NOAUTH before AUTH; NOPERM for commands and keys outside
// a user's rules, in scripts too; ACL WHOAMI/LIST/USERS/CAT; RESET; and a
// cluster whose default user is restricted still works (peers are not
// subject to users).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"
#include "tests/support/reply_text.h"

namespace lockerd::testing {
namespace {

constexpr char kNoAuth[] = "NOAUTH Authentication required.";
constexpr char kNoPermKey[] = "NOPERM No permissions to access a key";
constexpr char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";

class Acl : public ::testing::Test {
 protected:
  void SetUp() override {
    config_path_ = ::testing::TempDir() + "/lockerd-acl-" + std::to_string(::getpid()) + ".conf";
    {
      std::ofstream file(config_path_);
      file << "# Users as a Redis config would define them.\n"
              "user alice on >alice-pw ~locks:* -@all +@lock +@scripting +acl|whoami\n"
              "user bob off >bob-pw ~* +@all\n"
              "user ops on >ops-pw allkeys +@all -@dangerous +acl|list +acl|users\n"
              "user default on >default-pw ~* +@all\n";
    }
    server_ = LockerdProcess::Start({.config_file = config_path_});
    client_ = server_->Connect();
    ASSERT_TRUE(client_ && client_->err == 0);
  }
  void TearDown() override { std::filesystem::remove(config_path_); }

  std::string Run(const std::vector<std::string>& args) {
    return Text(Command(client_.get(), args));
  }

  ProcessResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"redis-cli", "--no-auth-warning", "-p", std::to_string(server_->port())});
    return RunProgram(args);
  }

  std::string config_path_;
  std::unique_ptr<LockerdProcess> server_;
  RedisPtr client_;
};

TEST_F(Acl, AuthSwitchesUserAndRefusesBadPasswordsAndDisabledUsers) {
  EXPECT_EQ(Run({"LOCK", "locks:1", "me", "5000"}), kNoAuth);
  EXPECT_EQ(Run({"AUTH", "alice", "wrong"}), kWrongPass);
  EXPECT_EQ(Run({"AUTH", "bob", "bob-pw"}), kWrongPass) << "bob is off";
  EXPECT_EQ(Run({"AUTH", "nobody", "x"}), kWrongPass);
  EXPECT_EQ(Run({"LOCK", "locks:1", "me", "5000"}), kNoAuth);
  EXPECT_EQ(Run({"AUTH", "alice", "alice-pw"}), "OK");
  EXPECT_EQ(Run({"ACL", "WHOAMI"}), "alice");
  EXPECT_GT(std::stoll(Run({"LOCK", "locks:1", "me", "5000"})), 0);
  EXPECT_EQ(Run({"RESET"}), "RESET");
  EXPECT_EQ(Run({"ACL", "WHOAMI"}), kNoAuth) << "back to default, which has a password";
  EXPECT_EQ(Run({"AUTH", "default-pw"}), "OK");
  EXPECT_EQ(Run({"ACL", "WHOAMI"}), "default");
}

// hiredis 0.14 cannot decode RESP3, so HELLO 3 is checked on raw bytes.
TEST_F(Acl, Hello3AuthSwitchesUser) {
  RawClient raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(
      raw.Send("HELLO 3 AUTH alice alice-pw\r\nACL WHOAMI\r\nHELLO 3 AUTH bob bob-pw\r\n"
               "ACL WHOAMI\r\n"));
  const std::vector<Reply> replies = raw.ReadReplies(4);
  ASSERT_EQ(replies.size(), 4u);
  ASSERT_EQ(replies[0].type, Reply::Type::kMap) << replies[0].text;
  EXPECT_EQ(replies[0].Field("proto")->integer, 3);
  EXPECT_EQ(replies[1].text, "alice");
  EXPECT_EQ(replies[2].text, kWrongPass) << "bob is off";
  EXPECT_EQ(replies[3].text, "alice") << "a failed HELLO AUTH keeps the user";
}

TEST_F(Acl, ForbiddenCommandsAndKeysAnswerNoPerm) {
  ASSERT_EQ(Run({"AUTH", "alice", "alice-pw"}), "OK");
  EXPECT_EQ(Run({"PING"}), "NOPERM User alice has no permissions to run the 'ping' command");
  EXPECT_EQ(Run({"CONFIG", "GET", "port"}),
            "NOPERM User alice has no permissions to run the 'config|get' command");
  EXPECT_EQ(Run({"LOCK", "other", "me", "5000"}), kNoPermKey);
  EXPECT_EQ(Run({"SET", "other", "me", "NX", "PX", "5000"}), kNoPermKey);
  EXPECT_EQ(Run({"SET", "locks:2", "me", "NX", "PX", "5000"}), "OK");
  EXPECT_EQ(Run({"DEL", "locks:2", "other"}), kNoPermKey);
  EXPECT_EQ(Run({"GET", "locks:2"}), "me") << "the refused DEL deleted nothing";
  EXPECT_EQ(Run({"DEL", "locks:2"}), "1");
  // Nothing was taken by the refused writes; INFO counts the refusals.
  EXPECT_EQ(Run({"AUTH", "default-pw"}), "OK");
  EXPECT_EQ(Run({"EXISTS", "other"}), "0");
  EXPECT_EQ(InfoField(client_.get(), "acl_access_denied_cmd"), "2");
  EXPECT_EQ(InfoField(client_.get(), "acl_access_denied_key"), "3");
  EXPECT_EQ(Run({"AUTH", "alice", "nope"}), kWrongPass);
  EXPECT_EQ(InfoField(client_.get(), "acl_access_denied_auth"), "1");
}

TEST_F(Acl, ScriptsAreCheckedAsTheirCaller) {
  ASSERT_EQ(Run({"AUTH", "alice", "alice-pw"}), "OK");
  EXPECT_GT(
      std::stoll(Run({"EVAL", "return redis.call('LOCK', KEYS[1], 'me', 5000)", "1", "locks:s"})),
      0);
  EXPECT_EQ(Run({"EVAL", "return redis.call('GET', KEYS[1])", "1", "other"}), kNoPermKey);
  const std::string forbidden = Run({"EVAL", "return redis.call('PTTL', KEYS[1])", "1", "locks:s"});
  EXPECT_EQ(
      forbidden.rfind(
          "ERR ACL failure in script: User alice has no permissions to run the 'pttl' command", 0),
      0u)
      << forbidden;
  const std::string undeclared = Run({"EVAL", "return redis.call('GET', 'other')", "0"});
  EXPECT_EQ(undeclared.rfind("ERR ACL failure in script: No permissions to access a key", 0), 0u)
      << undeclared;
}

TEST_F(Acl, AclCommandsShowUsers) {
  ASSERT_EQ(Run({"AUTH", "ops", "ops-pw"}), "OK");
  ReplyPtr users = Command(client_.get(), {"ACL", "USERS"});
  ASSERT_EQ(users->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(users->elements, 4u);
  EXPECT_STREQ(users->element[0]->str, "alice");
  EXPECT_STREQ(users->element[3]->str, "ops");
  ReplyPtr list = Command(client_.get(), {"ACL", "LIST"});
  ASSERT_EQ(list->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(list->elements, 4u);
  const std::string alice = list->element[0]->str;
  EXPECT_EQ(alice.rfind("user alice on #", 0), 0u) << alice;
  EXPECT_NE(alice.find(" ~locks:* resetchannels -@all +@lock +@scripting +acl|whoami"),
            std::string::npos)
      << alice;
  EXPECT_EQ(alice.find("alice-pw"), std::string::npos) << "passwords only as hashes";
  EXPECT_EQ(std::string(list->element[1]->str).rfind("user bob off #", 0), 0u);
  ReplyPtr lock_commands = Command(client_.get(), {"ACL", "CAT", "lock"});
  ASSERT_EQ(lock_commands->type, REDIS_REPLY_ARRAY);
  std::string names;
  for (size_t i = 0; i < lock_commands->elements; ++i)
    names += std::string(lock_commands->element[i]->str) + " ";
  EXPECT_NE(names.find("lock "), std::string::npos) << names;
  EXPECT_NE(names.find("release "), std::string::npos) << names;
  EXPECT_EQ(names.find("ping "), std::string::npos) << names;
  EXPECT_EQ(Run({"KEYS", "*"}), "NOPERM User ops has no permissions to run the 'keys' command")
      << "-@dangerous";
  EXPECT_EQ(Run({"ACL", "SETUSER", "eve", "on"}),
            "NOPERM User ops has no permissions to run the 'acl|setuser' command");
  const std::string info = Run({"CLIENT", "INFO"});
  EXPECT_NE(info.find(" user=ops "), std::string::npos) << info;
  ASSERT_EQ(Run({"AUTH", "default-pw"}), "OK");
  EXPECT_EQ(Run({"ACL", "SETUSER", "eve", "on"})
                .rfind("ERR ACL SETUSER and ACL DELUSER are not supported", 0),
            0u);
}

TEST_F(Acl, RedisCliUserPassAndA) {
  const ProcessResult lock =
      Cli({"--user", "alice", "--pass", "alice-pw", "LOCK", "locks:cli", "me", "5000"});
  ASSERT_EQ(lock.exit_code, 0) << lock.output;
  EXPECT_GT(std::stoll(lock.output), 0) << lock.output;
  const ProcessResult refused =
      Cli({"--user", "alice", "--pass", "alice-pw", "LOCK", "other", "me", "5000"});
  EXPECT_NE(refused.output.find(kNoPermKey), std::string::npos) << refused.output;
  const ProcessResult whoami = Cli({"-a", "default-pw", "ACL", "WHOAMI"});
  EXPECT_EQ(whoami.output, "default\n");
  const ProcessResult wrong = Cli({"--user", "alice", "--pass", "nope", "ACL", "WHOAMI"});
  EXPECT_NE(wrong.output.find("WRONGPASS"), std::string::npos) << wrong.output;
  const ProcessResult none = Cli({"GET", "locks:cli"});
  EXPECT_NE(none.output.find("NOAUTH"), std::string::npos) << none.output;
}

TEST(AclStartup, UnknownRuleStopsStartupNamingTheLine) {
  const std::string path =
      ::testing::TempDir() + "/lockerd-acl-bad-" + std::to_string(::getpid()) + ".conf";
  {
    std::ofstream file(path);
    file << "port 1\n"
            "user alice on +@lock maybe\n";
  }
  const ProcessResult run = RunProgram({LOCKERD_BINARY, path});
  std::filesystem::remove(path);
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find(path + ":2: user alice: unknown rule 'maybe'"), std::string::npos)
      << run.output;
  const ProcessResult help = RunProgram({LOCKERD_BINARY, "--help"});
  EXPECT_NE(help.output.find("--user <name> [<rule> ...]"), std::string::npos) << help.output;
}

// Peers authenticate with the cluster secret, not as users: a cluster
// whose default user may only lock keys under locks: still replicates.
// (INFO is allowed because the test support waits on INFO for the links.)
TEST(AclCluster, RestrictedDefaultUserDoesNotAffectPeers) {
  std::vector<std::string> args = kFastClusterSettings;
  args.insert(args.end(),
              {"--user", "default", "on", "nopass", "~locks:*", "-@all", "+@lock", "+info"});
  args.insert(args.end(), {"--user", "admin", "on", ">admin-pw", "~*", "+@all"});
  auto cluster = LockerdCluster::Start(3, args);
  RedisPtr a = cluster->Connect(0);
  RedisPtr b = cluster->Connect(1);
  const std::string token = Text(Command(a.get(), {"LOCK", "locks:c", "a", "1400"}));
  ASSERT_EQ(token.find_first_not_of("0123456789"), std::string::npos) << token;
  EXPECT_EQ(Text(Command(b.get(), {"LOCK", "locks:c", "b", "1400"})), "(nil)") << "member 1 knows";
  EXPECT_EQ(Text(Command(b.get(), {"LOCK", "k", "b", "1400"})), kNoPermKey);
  EXPECT_EQ(Text(Command(b.get(), {"KEYS", "*"})),
            "NOPERM User default has no permissions to run the 'keys' command");
  EXPECT_EQ(Text(Command(a.get(), {"RELEASE", "locks:c", "a"})), "1");
  RedisPtr c = cluster->Connect(2);
  EXPECT_EQ(Text(Command(c.get(), {"AUTH", "admin", "admin-pw"})), "OK");
  EXPECT_TRUE(Eventually([&] { return Text(Command(c.get(), {"EXISTS", "locks:c"})) == "0"; }));
  const std::string reachable = Text(Command(c.get(), {"INFO", "cluster"}));
  EXPECT_NE(reachable.find("cluster_quorum"), std::string::npos) << reachable;
}

}  // namespace
}  // namespace lockerd::testing
