// ACL users without a server: rules applied in order, resets, errors,
// category membership, key patterns and ACL LIST's line.
#include "server/security/acl.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "server/commands/command_table.h"
#include "server/config/config.h"
#include "server/security/sha256.h"

namespace lockerd::server {
namespace {

size_t Index(std::string_view name) {
  const auto index = CommandAclCatalog().Find(name);
  EXPECT_TRUE(index.has_value()) << name;
  return index.value_or(0);
}

AclUser User(std::vector<std::string> rules, std::string name = "alice") {
  AclUser user(std::move(name), CommandAclCatalog());
  EXPECT_EQ(user.ApplyRules(rules), "");
  return user;
}

const std::string kAbcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcHash);
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AclUser, NewUserIsOffWithNothingAllowed) {
  const AclUser user("alice", CommandAclCatalog());
  EXPECT_FALSE(user.enabled());
  EXPECT_FALSE(user.Authenticates(""));
  EXPECT_FALSE(user.MayRun(Index("get")));
  EXPECT_FALSE(user.MayAccessKey("k"));
  EXPECT_EQ(user.Describe(), "user alice off resetchannels -@all");
}

TEST(AclUser, DefaultUserIsOpen) {
  const AclUser user = AclUser::DefaultUser(CommandAclCatalog());
  EXPECT_TRUE(user.unrestricted());
  EXPECT_TRUE(user.Authenticates("anything"));
  EXPECT_EQ(user.Describe(), "user default on nopass ~* resetchannels +@all");
}

TEST(AclUser, PasswordsAreHashedAndChecked) {
  AclUser user = User({"on", ">abc", ">second"});
  EXPECT_TRUE(user.Authenticates("abc"));
  EXPECT_TRUE(user.Authenticates("second"));
  EXPECT_FALSE(user.Authenticates("ab"));
  EXPECT_FALSE(user.Authenticates(""));
  EXPECT_EQ(user.Describe().find("abc "), std::string::npos) << "no plain text";
  EXPECT_NE(user.Describe().find("#" + kAbcHash), std::string::npos) << user.Describe();
  EXPECT_EQ(user.ApplyRule("<second"), "");
  EXPECT_FALSE(user.Authenticates("second"));
  EXPECT_EQ(user.ApplyRule("<second"), "a '<' rule removes a password the user does not have")
      << "and the password is not echoed";
  EXPECT_EQ(user.ApplyRule("off"), "");
  EXPECT_FALSE(user.Authenticates("abc")) << "a disabled user cannot log in";
}

TEST(AclUser, HashRulesAndNopassOrder) {
  AclUser user = User({"on", "#" + kAbcHash});
  EXPECT_TRUE(user.Authenticates("abc"));
  EXPECT_EQ(user.ApplyRule("nopass"), "");
  EXPECT_TRUE(user.Authenticates("whatever"));
  EXPECT_EQ(user.ApplyRule(">abc"), "") << "a password after nopass ends nopass";
  EXPECT_FALSE(user.Authenticates("whatever"));
  EXPECT_EQ(user.ApplyRule("resetpass"), "");
  EXPECT_FALSE(user.Authenticates("abc"));
  EXPECT_FALSE(user.Authenticates(""));
  EXPECT_NE(user.ApplyRule("#abc"), "") << "a hash is 64 hex digits";
  EXPECT_NE(user.ApplyRule("#" + std::string(64, 'g')), "");
}

TEST(AclUser, CommandRulesApplyLeftToRight) {
  AclUser user = User({"+@all", "-@lock", "+get"});
  EXPECT_TRUE(user.MayRun(Index("get")));
  EXPECT_FALSE(user.MayRun(Index("lock")));
  EXPECT_FALSE(user.MayRun(Index("del")));
  EXPECT_TRUE(user.MayRun(Index("ping")));
  EXPECT_EQ(user.Describe(), "user alice off resetchannels +@all -@lock +get");
  // The other order: get is in @lock, so the later rule wins.
  AclUser other = User({"+get", "-@lock"});
  EXPECT_FALSE(other.MayRun(Index("get")));
  EXPECT_EQ(other.ApplyRule("nocommands"), "");
  EXPECT_EQ(other.Describe(), "user alice off resetchannels -@all") << "-@all starts over";
}

TEST(AclUser, ContainerAndSubcommandRules) {
  AclUser user = User({"+client", "-client|kill", "+config|get"});
  EXPECT_TRUE(user.MayRun(Index("client|id")));
  EXPECT_TRUE(user.MayRun(Index("client|list")));
  EXPECT_FALSE(user.MayRun(Index("client|kill")));
  EXPECT_TRUE(user.MayRun(Index("config|get")));
  EXPECT_FALSE(user.MayRun(Index("config|set")));
}

TEST(AclUser, KeyPatterns) {
  AclUser user = User({"~locks:*", "~job:?"});
  EXPECT_TRUE(user.MayAccessKey("locks:1"));
  EXPECT_TRUE(user.MayAccessKey("job:7"));
  EXPECT_FALSE(user.MayAccessKey("job:17"));
  EXPECT_FALSE(user.MayAccessKey("Locks:1")) << "case-sensitive, as in Redis";
  EXPECT_EQ(user.ApplyRule("allkeys"), "");
  EXPECT_TRUE(user.MayAccessKey("anything"));
  EXPECT_NE(user.ApplyRule("~more:*"), "") << "a pattern after allkeys has no effect";
  EXPECT_EQ(user.ApplyRule("resetkeys"), "");
  EXPECT_FALSE(user.MayAccessKey("locks:1"));
}

TEST(AclUser, ResetStartsOver) {
  AclUser user = User({"on", ">abc", "~*", "+@all", "reset"});
  EXPECT_EQ(user.Describe(), "user alice off resetchannels -@all");
  EXPECT_FALSE(user.MayAccessKey("k"));
}

TEST(AclUser, UnknownRulesAreErrors) {
  AclUser user("alice", CommandAclCatalog());
  EXPECT_EQ(user.ApplyRule("bogus"), "unknown rule 'bogus'");
  EXPECT_EQ(user.ApplyRule("+nosuchcommand"), "unknown command in rule '+nosuchcommand'");
  EXPECT_EQ(user.ApplyRule("+@nosuch"), "unknown category in rule '+@nosuch' (see ACL CAT)");
  EXPECT_EQ(user.ApplyRule("resetchannels"), "") << "channels are accepted and ignored";
  EXPECT_EQ(user.ApplyRule("&events:*"), "");
}

TEST(AclUser, ListLineInRedisOrder) {
  const AclUser user = User({"+@lock", ">abc", "~locks:*", "on", "-@all", "+@lock", "-wait"});
  EXPECT_EQ(user.Describe(),
            "user alice on #" + kAbcHash + " ~locks:* resetchannels -@all +@lock -wait");
}

TEST(AclCategories, EveryCommandHasCategoriesAndOneSpeed) {
  for (const AclCommand& command : CommandAclCatalog().commands()) {
    const bool fast = command.categories & kAclFast;
    const bool slow = command.categories & kAclSlow;
    EXPECT_NE(fast, slow) << command.name << " is either @fast or @slow";
  }
  // And every command of the table is one of them.
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.subcommands.empty()) {
      EXPECT_TRUE(CommandAclCatalog().Find(spec.name)) << spec.name;
    }
    for (const CommandSpec& sub : spec.subcommands)
      EXPECT_TRUE(CommandAclCatalog().Find(sub.name)) << sub.name;
  }
}

TEST(AclCategories, Membership) {
  const auto in = [](std::string_view name, uint32_t category) {
    return (CommandAclCatalog().commands()[Index(name)].categories & category) != 0;
  };
  for (const char* name :
       {"lock", "extend", "release", "update", "wait", "lockinfo", "set", "del", "get"}) {
    EXPECT_TRUE(in(name, kAclLock)) << name;
  }
  EXPECT_FALSE(in("ping", kAclLock));
  EXPECT_TRUE(in("lock", kAclWrite));
  EXPECT_TRUE(in("get", kAclRead));
  EXPECT_TRUE(in("config|set", kAclAdmin));
  EXPECT_TRUE(in("client|kill", kAclAdmin));
  EXPECT_TRUE(in("script|flush", kAclAdmin));
  EXPECT_TRUE(in("keys", kAclDangerous));
  EXPECT_TRUE(in("eval", kAclScripting));
  EXPECT_TRUE(in("auth", kAclConnection));
  EXPECT_FALSE(in("client|id", kAclAdmin));
  EXPECT_EQ(FindAclCategory("LOCK"), kAclLock);
  EXPECT_FALSE(FindAclCategory("all")) << "@all is a rule, not a category";
}

TEST(AclCheck, CommandsAndKeys) {
  const AclUser user = User({"on", "nopass", "~locks:*", "+@lock", "+@scripting"});
  const auto check = [&user](std::vector<std::string> args) {
    std::string name = args[0];
    return AclCheck(user, Index(name), args);
  };
  EXPECT_EQ(check({"lock", "locks:1", "me", "100"}), "");
  EXPECT_EQ(check({"lock", "other", "me", "100"}), "NOPERM No permissions to access a key");
  EXPECT_EQ(check({"del", "locks:1", "other"}), "NOPERM No permissions to access a key");
  EXPECT_EQ(check({"del", "locks:1", "locks:2"}), "");
  EXPECT_EQ(check({"ping"}), "NOPERM User alice has no permissions to run the 'ping' command");
  EXPECT_EQ(check({"auth", "x"}), "") << "no-auth commands are never refused";
  EXPECT_EQ(check({"eval", "return 1", "1", "locks:1", "arg"}), "");
  EXPECT_EQ(check({"eval", "return 1", "2", "locks:1", "other"}),
            "NOPERM No permissions to access a key");
  EXPECT_EQ(check({"eval", "return 1", "0", "other"}), "") << "ARGV is not keys";
  EXPECT_EQ(AclCheckScriptCall(user, std::vector<std::string>{"pttl", "locks:1"}),
            "ERR ACL failure in script: User alice has no permissions to run the 'pttl' command");
  EXPECT_EQ(AclCheckScriptCall(user, std::vector<std::string>{"GET", "x"}),
            "ERR ACL failure in script: No permissions to access a key");
  EXPECT_EQ(AclCheckScriptCall(user, std::vector<std::string>{"nosuch"}), "");
}

TEST(AclUsers, DefaultUserFromRequirepassOrConfig) {
  const AclUsers open({}, "", CommandAclCatalog());
  EXPECT_TRUE(open.default_user()->nopass());
  const AclUsers with_password({}, "s3cret", CommandAclCatalog());
  EXPECT_TRUE(with_password.default_user()->Authenticates("s3cret"));
  EXPECT_FALSE(with_password.default_user()->Authenticates(""));
  EXPECT_TRUE(with_password.default_user()->unrestricted());
  const std::vector<AclUser> configured = {User({"on", ">pw", "~*", "+@read"}, "zed"),
                                           User({"on", ">d", "+@all"}, "default")};
  const AclUsers users(configured, "", CommandAclCatalog());
  EXPECT_FALSE(users.default_user()->MayAccessKey("k")) << "user default starts from reset";
  EXPECT_TRUE(users.default_user()->Authenticates("d"));
  ASSERT_EQ(users.Sorted().size(), 2u);
  EXPECT_EQ(users.Sorted()[0]->name(), "default");
  EXPECT_EQ(users.Find("zed")->name(), "zed");
  EXPECT_EQ(users.Find("nobody"), nullptr);
}

ConfigLoad Load(std::vector<const char*> args) {
  args.insert(args.begin(), "lockerd");
  return LoadConfig(static_cast<int>(args.size()), args.data(), CommandAclCatalog());
}

TEST(AclConfig, UserLinesAndFlags) {
  const std::string path = ::testing::TempDir() + "/lockerd-acl-test.conf";
  {
    std::ofstream file(path);
    file << "user alice on \">pass word\" ~locks:* -@all +@lock\n"
            "user bob\n";
  }
  const ConfigLoad load = Load({path.c_str(), "--user", "carol", "on", "nopass", "+ping"});
  ASSERT_TRUE(load.config.has_value()) << (load.errors.empty() ? "" : load.errors[0]);
  ASSERT_EQ(load.config->users.size(), 3u);
  EXPECT_TRUE(load.config->users[0].Authenticates("pass word"));
  EXPECT_FALSE(load.config->users[1].enabled());
  EXPECT_TRUE(load.config->users[2].MayRun(Index("ping")));
  std::remove(path.c_str());
}

TEST(AclConfig, BadRulesNameTheLine) {
  const std::string path = ::testing::TempDir() + "/lockerd-acl-bad.conf";
  {
    std::ofstream file(path);
    file << "port 7000\n"
            "user alice on +@lock sometimes\n";
  }
  const ConfigLoad load = Load({path.c_str()});
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0], path + ":2: user alice: unknown rule 'sometimes'");
  std::remove(path.c_str());
  const ConfigLoad twice = Load({"--user", "a", "on", "--user", "a", "off"});
  ASSERT_EQ(twice.errors.size(), 1u);
  EXPECT_EQ(twice.errors[0], "--user: user 'a' is defined twice");
  const ConfigLoad both = Load({"--requirepass", "x", "--user", "default", "on", ">y"});
  ASSERT_EQ(both.errors.size(), 1u);
  EXPECT_NE(both.errors[0].find("requirepass and `user default`"), std::string::npos);
}

}  // namespace
}  // namespace lockerd::server
