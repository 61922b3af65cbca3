// ACL users through the engine: AUTH and HELLO switch user, commands and
// keys outside a user's rules answer NOPERM, scripts run as their caller.
#include <gtest/gtest.h>

#include "base/errors.h"
#include "server/commands/command_table.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

using testing::Reply;

Config WithUsers() {
  Config config;
  AclUser alice("alice", CommandAclCatalog());
  EXPECT_EQ(alice.ApplyRules(std::vector<std::string>{"on", ">apw", "~locks:*", "-@all", "+@lock",
                                                      "+@scripting", "+acl|whoami"}),
            "");
  AclUser bob("bob", CommandAclCatalog());
  EXPECT_EQ(bob.ApplyRules(std::vector<std::string>{"off", ">bpw", "~*", "+@all"}), "");
  AclUser carol("carol", CommandAclCatalog());
  EXPECT_EQ(carol.ApplyRules(std::vector<std::string>{"on", ">cpw", "~locks:*", "-@all", "+@lock",
                                                      "+@transaction"}),
            "");
  AclUser dave("dave", CommandAclCatalog());
  EXPECT_EQ(dave.ApplyRules(std::vector<std::string>{"on", ">vpw", "~locks:*", "-@all", "+@lock", "+multi"}), "");
  AclUser def("default", CommandAclCatalog());
  EXPECT_EQ(def.ApplyRules(std::vector<std::string>{"on", ">dpw", "~*", "+@all"}), "");
  config.users = {alice, bob, carol, dave, def};
  return config;
}

class EngineAclTest : public EngineTest {
 protected:
  EngineAclTest() : EngineTest(WithUsers()) {}
  Client& Alice() {
    Client& client = NewClient();
    EXPECT_EQ(One(client, {"AUTH", "alice", "apw"}).text, "OK");
    return client;
  }
};

TEST_F(EngineAclTest, AuthSwitchesUser) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"LOCK", "locks:1", "me", "100"}).text, errors::kNoAuth);
  EXPECT_EQ(One(a, {"AUTH", "alice", "wrong"}).text, errors::kWrongPass);
  EXPECT_EQ(One(a, {"AUTH", "bob", "bpw"}).text, errors::kWrongPass) << "bob is off";
  EXPECT_EQ(One(a, {"AUTH", "nobody", "apw"}).text, errors::kWrongPass);
  EXPECT_EQ(One(a, {"AUTH", "alice", "apw"}).text, "OK");
  EXPECT_EQ(One(a, {"ACL", "WHOAMI"}).text, "alice");
  EXPECT_EQ(One(a, {"RESET"}).text, "RESET");
  EXPECT_EQ(One(a, {"ACL", "WHOAMI"}).text, errors::kNoAuth) << "default has a password";
  EXPECT_EQ(One(a, {"HELLO", "3", "AUTH", "alice", "apw"}).Field("proto")->integer, 3);
  EXPECT_EQ(One(a, {"ACL", "WHOAMI"}).text, "alice");
  EXPECT_EQ(One(a, {"AUTH", "dpw"}).text, "OK") << "the one-argument form is the default user";
  EXPECT_EQ(One(a, {"ACL", "WHOAMI"}).text, "default");
}

TEST_F(EngineAclTest, CommandsAndKeysOutsideTheRulesAreRefused) {
  Client& a = Alice();
  EXPECT_EQ(One(a, {"LOCK", "locks:1", "me", "1000"}).type, Reply::Type::kInteger);
  EXPECT_EQ(One(a, {"LOCK", "other", "me", "1000"}).text, errors::kNoPermKey);
  EXPECT_EQ(One(a, {"SET", "other", "me", "NX", "PX", "1000"}).text, errors::kNoPermKey);
  EXPECT_EQ(One(a, {"DEL", "locks:1", "other"}).text, errors::kNoPermKey);
  EXPECT_EQ(One(a, {"PING"}).text,
            "NOPERM User alice has no permissions to run the 'ping' command");
  EXPECT_EQ(One(a, {"CLIENT", "LIST"}).text,
            "NOPERM User alice has no permissions to run the 'client|list' command");
  EXPECT_EQ(One(a, {"GET", "locks:1"}).text, "me");
  EXPECT_EQ(One(a, {"RELEASE", "locks:1", "me"}).integer, 1);
  Client& d = NewClient();
  EXPECT_EQ(One(d, {"AUTH", "dpw"}).text, "OK");
  EXPECT_EQ(One(d, {"LOCK", "other", "me", "1000"}).type, Reply::Type::kInteger);
}

// A MULTI the ACL refuses is a refused MULTI: nothing queued behind it runs
// (Redis would run it), and EXEC or DISCARD still end it although the user
// may not run them otherwise.
TEST_F(EngineAclTest, AMultiTheAclRefusesRunsNothingBehindIt) {
  Client& a = Alice();
  EXPECT_EQ(One(a, {"MULTI"}).text, "NOPERM User alice has no permissions to run the 'multi' command");
  EXPECT_EQ(One(a, {"LOCK", "locks:2", "me", "1000"}).text, errors::kQueuedRefused);
  EXPECT_EQ(One(a, {"EXEC"}).text, errors::kExecAbort);
  EXPECT_TRUE(One(a, {"GET", "locks:2"}).IsNull());
  EXPECT_EQ(One(a, {"EXEC"}).text, "NOPERM User alice has no permissions to run the 'exec' command");
  EXPECT_EQ(One(a, {"LOCK", "locks:2", "me", "1000"}).type, Reply::Type::kInteger);
}

// Inside a transaction each queued command is checked when queued, as
// Redis does: one the ACL refuses (a command or a key) aborts the whole
// transaction, so nothing the user was told about runs half.
TEST_F(EngineAclTest, AQueuedCommandTheAclRefusesAbortsTheTransaction) {
  Client& c = NewClient();
  EXPECT_EQ(One(c, {"AUTH", "carol", "cpw"}).text, "OK");
  EXPECT_EQ(One(c, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(c, {"LOCK", "locks:3", "me", "1000"}).text, "QUEUED");
  EXPECT_EQ(One(c, {"LOCK", "other", "me", "1000"}).text, errors::kNoPermKey);
  EXPECT_EQ(One(c, {"EXEC"}).text, errors::kExecAbort);
  EXPECT_TRUE(One(c, {"GET", "locks:3"}).IsNull());
  EXPECT_EQ(One(c, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(c, {"LOCK", "locks:3", "me", "1000"}).text, "QUEUED");
  EXPECT_EQ(One(c, {"PING"}).text, "NOPERM User carol has no permissions to run the 'ping' command");
  EXPECT_EQ(One(c, {"EXEC"}).text, errors::kExecAbort);
  EXPECT_EQ(One(c, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(c, {"LOCK", "locks:3", "me", "1000"}).text, "QUEUED");
  const Reply done = One(c, {"EXEC"});
  // (alice may not run EXEC: her MULTI is refused, below; an EXEC the ACL
  // refuses inside a transaction aborts it, as Redis's does.)
  ASSERT_EQ(done.elements.size(), 1u);
  EXPECT_EQ(done.elements[0].type, Reply::Type::kInteger);
  EXPECT_EQ(One(c, {"GET", "locks:3"}).text, "me");
}

// An EXEC the ACL refuses ends the transaction without running it, as
// Redis answers: EXECABORT naming the refusal.
TEST_F(EngineAclTest, AnExecTheAclRefusesRunsNothing) {
  Client& v = NewClient();
  EXPECT_EQ(One(v, {"AUTH", "dave", "vpw"}).text, "OK");
  EXPECT_EQ(One(v, {"MULTI"}).text, "OK");
  EXPECT_EQ(One(v, {"LOCK", "locks:4", "me", "1000"}).text, "QUEUED");
  EXPECT_EQ(One(v, {"EXEC"}).text,
            "EXECABORT Transaction discarded because of: NOPERM User dave has no permissions to run "
            "the 'exec' command");
  EXPECT_TRUE(One(v, {"GET", "locks:4"}).IsNull());
  EXPECT_EQ(One(v, {"LOCK", "locks:4", "me", "1000"}).type, Reply::Type::kInteger) << "out of MULTI";
}

TEST_F(EngineAclTest, ScriptsRunAsTheirCaller) {
  Client& a = Alice();
  EXPECT_EQ(One(a, {"EVAL", "return redis.call('lock', KEYS[1], 'me', 1000)", "1", "locks:2"}).type,
            Reply::Type::kInteger);
  EXPECT_EQ(One(a, {"EVAL", "return 1", "1", "other"}).text, errors::kNoPermKey)
      << "declared keys are checked";
  EXPECT_EQ(
      One(a, {"EVAL", "return redis.call('pttl', KEYS[1])", "1", "locks:2"})
          .text.rfind(
              "ERR ACL failure in script: User alice has no permissions to run the 'pttl' command",
              0),
      0u);
  // A key outside the patterns reached without declaring it.
  const Reply undeclared = One(a, {"EVAL", "return redis.call('get', 'other')", "0"});
  EXPECT_EQ(undeclared.text.rfind("ERR ACL failure in script: No permissions to access a key", 0),
            0u)
      << undeclared.text;
  Client& d = NewClient();
  EXPECT_EQ(One(d, {"AUTH", "dpw"}).text, "OK");
  EXPECT_EQ(One(d, {"EVAL", "return redis.call('pttl', KEYS[1])", "1", "locks:2"}).type,
            Reply::Type::kInteger);
}

TEST_F(EngineAclTest, AclCommandsAndClientList) {
  Client& d = NewClient();
  EXPECT_EQ(One(d, {"AUTH", "default", "dpw"}).text, "OK");
  const Reply users = One(d, {"ACL", "USERS"});
  ASSERT_EQ(users.elements.size(), 5u);
  EXPECT_EQ(users.elements[0].text, "alice");
  EXPECT_EQ(users.elements[4].text, "default");
  const Reply list = One(d, {"ACL", "LIST"});
  ASSERT_EQ(list.elements.size(), 5u);
  EXPECT_EQ(list.elements[0].text.rfind("user alice on #", 0), 0u) << list.elements[0].text;
  EXPECT_NE(
      list.elements[0].text.find(" ~locks:* resetchannels -@all +@lock +@scripting +acl|whoami"),
      std::string::npos)
      << list.elements[0].text;
  EXPECT_EQ(list.elements[1].text.rfind("user bob off #", 0), 0u);
  EXPECT_EQ(One(d, {"ACL", "CAT", "nosuch"}).text, "ERR Unknown category 'nosuch'");
  EXPECT_GE(One(d, {"ACL", "CAT"}).elements.size(), 10u);
  EXPECT_EQ(One(d, {"ACL", "SETUSER", "x", "on"}).text, errors::kAclSetUser);
  Client& a = Alice();
  const std::string clients = One(d, {"CLIENT", "LIST"}).text;
  EXPECT_NE(clients.find("id=" + std::to_string(a.id()) + " "), std::string::npos);
  EXPECT_NE(clients.find("user=alice"), std::string::npos) << clients;
  EXPECT_EQ(One(d, {"CLIENT", "KILL", "USER", "alice"}).integer, 1);
}

TEST_F(EngineTest, WithoutUsersEveryoneIsTheOpenDefaultUser) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"ACL", "WHOAMI"}).text, "default");
  EXPECT_EQ(One(a, {"HELLO", "3", "AUTH", "default", "anything"}).Field("proto")->integer, 3)
      << "nopass: any password, as in Redis";
  const Reply list = One(a, {"ACL", "LIST"});
  ASSERT_EQ(list.elements.size(), 1u);
  EXPECT_EQ(list.elements[0].text, "user default on nopass ~* resetchannels +@all");
}

}  // namespace
}  // namespace lockerd::server
