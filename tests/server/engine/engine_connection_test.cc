// Connection and server commands as Redis clients expect them at connect
// time: texts and reply shapes follow Redis.
#include <gtest/gtest.h>

#include "server/commands/command_table.h"
#include "base/errors.h"
#include "tests/server/engine/engine_fixture.h"

namespace lockerd::server {
namespace {

using testing::Reply;

TEST_F(EngineTest, PingEchoSelectTime) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"PING"}).text, "PONG");
  EXPECT_EQ(One(a, {"ping", "hi"}).text, "hi");
  EXPECT_EQ(One(a, {"PING", "a", "b"}).text, "ERR wrong number of arguments for 'ping' command");
  EXPECT_EQ(One(a, {"ECHO", "x"}).text, "x");
  EXPECT_EQ(One(a, {"SELECT", "0"}).text, "OK");
  EXPECT_EQ(One(a, {"SELECT", "1"}).text, errors::kDbIndex);
  EXPECT_EQ(One(a, {"SELECT", "x"}).text, errors::kNotInteger);
  const Reply time = One(a, {"TIME"});
  ASSERT_EQ(time.elements.size(), 2u);
  EXPECT_EQ(time.elements[0].text, std::to_string(kWallMs / 1000));
}

TEST_F(EngineTest, UnknownCommandAndWrongArityLikeRedis) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"FOO", "a", "b"}).text,
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(One(a, {"GET"}).text, "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(One(a, {"CLIENT", "FOO"}).text, "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
  EXPECT_EQ(One(a, {"CLIENT"}).text, "ERR wrong number of arguments for 'client' command");
  EXPECT_EQ(One(a, {"CLIENT", "SETNAME"}).text,
            "ERR wrong number of arguments for 'client|setname' command");
  // Redis's own WAIT numreplicas timeout is not offered: WAIT here is SPEC 1's.
  EXPECT_EQ(One(a, {"WAIT", "1", "0"}).integer, 0);
  const std::string huge(1000, 'x');
  EXPECT_LT(One(a, {huge, "\r\n"}).text.size(), 300u) << "echoed bytes are cut";
}

TEST_F(EngineTest, QuitClosesAfterTheReply) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"QUIT"}).text, "OK");
  EXPECT_TRUE(a.close_after_reply);
}

TEST_F(EngineTest, HelloSwitchesProtocolAndDescribesTheServer) {
  Client& a = NewClient();
  const Reply hello = One(a, {"HELLO", "3", "SETNAME", "worker-1"});
  EXPECT_EQ(hello.type, Reply::Type::kMap);
  EXPECT_EQ(hello.Field("proto")->integer, 3);
  EXPECT_EQ(hello.Field("server")->text, "lockerd");
  EXPECT_EQ(hello.Field("role")->text, "master");
  EXPECT_EQ(hello.Field("id")->integer, static_cast<int64_t>(a.id()));
  EXPECT_EQ(One(a, {"CLIENT", "GETNAME"}).text, "worker-1");
  EXPECT_EQ(One(a, {"GET", "none"}).type, Reply::Type::kNull);
  EXPECT_EQ(One(a, {"HELLO", "4"}).text, errors::kNoProto);
  EXPECT_EQ(One(a, {"HELLO", "2"}).type, Reply::Type::kArray) << "RESP2 map is a flat array";
  EXPECT_EQ(One(a, {"HELLO", "3", "BOGUS"}).text, "ERR Syntax error in HELLO option 'BOGUS'");
  EXPECT_EQ(One(a, {"RESET"}).text, "RESET");
  EXPECT_EQ(a.version(), protocol::RespVersion::kResp2);
  EXPECT_TRUE(One(a, {"CLIENT", "GETNAME"}).IsNull());
}

TEST_F(EngineTest, AuthWithoutPasswordConfigured) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"AUTH", "x"}).text, errors::kAuthNotConfigured);
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100"}).type, Reply::Type::kInteger);
}

class AuthTest : public EngineTest {
 protected:
  AuthTest() : EngineTest(WithPassword()) {}
  static Config WithPassword() {
    Config config;
    config.requirepass = "s3cret";
    return config;
  }
};

TEST_F(AuthTest, CommandsNeedAuth) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100"}).text, errors::kNoAuth);
  EXPECT_EQ(One(a, {"PING"}).text, errors::kNoAuth);
  EXPECT_EQ(One(a, {"HELLO", "3"}).text, errors::kHelloNoAuth);
  EXPECT_EQ(One(a, {"AUTH", "wrong"}).text, errors::kWrongPass);
  EXPECT_EQ(One(a, {"AUTH", "other", "s3cret"}).text, errors::kWrongPass);
  EXPECT_EQ(One(a, {"AUTH", "s3cret"}).text, "OK");
  EXPECT_EQ(One(a, {"LOCK", "k", "me", "100"}).type, Reply::Type::kInteger);
  EXPECT_EQ(One(a, {"RESET"}).text, "RESET");
  EXPECT_EQ(One(a, {"GET", "k"}).text, errors::kNoAuth) << "RESET forgets the login";
  EXPECT_EQ(One(a, {"HELLO", "3", "AUTH", "default", "s3cret"}).Field("proto")->integer, 3);
  EXPECT_EQ(One(a, {"GET", "k"}).text, "me");
}

TEST_F(EngineTest, ClientCommands) {
  Client& a = NewClient();
  Client& b = NewClient();
  EXPECT_EQ(One(a, {"CLIENT", "ID"}).integer, static_cast<int64_t>(a.id()));
  EXPECT_EQ(One(a, {"CLIENT", "SETNAME", "has space"}).text, errors::kClientName);
  EXPECT_EQ(One(a, {"CLIENT", "SETNAME", "app"}).text, "OK");
  EXPECT_EQ(One(a, {"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}).text, "OK");
  EXPECT_EQ(One(a, {"CLIENT", "SETINFO", "lib-ver", "5.0"}).text, "OK");
  EXPECT_EQ(One(a, {"CLIENT", "SETINFO", "color", "red"}).text, "ERR Unrecognized option 'color'");
  const std::string info = One(a, {"CLIENT", "INFO"}).text;
  EXPECT_NE(info.find("id=" + std::to_string(a.id()) + " "), std::string::npos) << info;
  EXPECT_NE(info.find("name=app "), std::string::npos) << info;
  EXPECT_NE(info.find("lib-name=redis-py lib-ver=5.0"), std::string::npos) << info;
  const std::string list = One(a, {"CLIENT", "LIST"}).text;
  EXPECT_NE(list.find("id=" + std::to_string(b.id()) + " "), std::string::npos) << list;
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 2);
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "ID", std::to_string(b.id())}).integer, 1);
  EXPECT_TRUE(b.kill_requested);
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "9.9.9.9:1"}).text, errors::kNoSuchClient);
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "ID", "0"}).text, "ERR client-id should be greater than 0");
  EXPECT_EQ(One(a, {"CLIENT", "KILL", "ID", std::to_string(a.id())}).integer, 0) << "SKIPME yes";
  EXPECT_EQ(One(a, {"CLIENT", "KILL", a.peer_address()}).text, "OK");
  EXPECT_TRUE(a.close_after_reply) << "killing yourself closes after the reply";
}

TEST_F(EngineTest, CommandDocsHasWhatRedisCliReads) {
  Client& a = NewClient();
  EXPECT_EQ(One(a, {"COMMAND", "COUNT"}).integer, static_cast<int64_t>(AllCommands().size()));
  const Reply docs = One(a, {"COMMAND", "DOCS"});
  ASSERT_EQ(docs.elements.size(), AllCommands().size() * 2);
  // redis-cli asserts on these shapes: every argument has a name and a type,
  // flags are simple strings, subcommands are a map.
  const std::function<void(const Reply&)> check_args = [&](const Reply& args) {
    ASSERT_EQ(args.type, Reply::Type::kArray);
    for (const Reply& arg : args.elements) {
      ASSERT_NE(arg.Field("name"), nullptr);
      ASSERT_NE(arg.Field("type"), nullptr);
      if (const Reply* flags = arg.Field("flags")) {
        for (const Reply& flag : flags->elements) EXPECT_EQ(flag.type, Reply::Type::kSimple);
      }
      if (const Reply* children = arg.Field("arguments")) check_args(*children);
    }
  };
  for (size_t i = 0; i < docs.elements.size(); i += 2) {
    const Reply& spec = docs.elements[i + 1];
    EXPECT_NE(spec.Field("summary"), nullptr) << docs.elements[i].text;
    EXPECT_NE(spec.Field("group"), nullptr);
    if (const Reply* args = spec.Field("arguments")) check_args(*args);
  }
  const Reply lock_docs = One(a, {"COMMAND", "DOCS", "lock"});
  ASSERT_EQ(lock_docs.elements.size(), 2u);
  EXPECT_EQ(lock_docs.elements[0].text, "lock");
}

TEST_F(EngineTest, CommandInfoDescribesArityAndKeys) {
  Client& a = NewClient();
  const Reply info = One(a, {"COMMAND", "INFO", "lock", "nosuch"});
  ASSERT_EQ(info.elements.size(), 2u);
  const Reply& lock = info.elements[0];
  ASSERT_EQ(lock.elements.size(), 10u);
  EXPECT_EQ(lock.elements[0].text, "lock");
  EXPECT_EQ(lock.elements[1].integer, -4);
  EXPECT_EQ(lock.elements[3].integer, 1) << "first key";
  EXPECT_TRUE(info.elements[1].IsNull());
  EXPECT_EQ(One(a, {"COMMAND"}).elements.size(), AllCommands().size());
}

TEST_F(EngineTest, CommandTableIsSortedForLookup) {
  const auto commands = AllCommands();
  for (size_t i = 1; i < commands.size(); ++i) {
    EXPECT_LT(commands[i - 1].name, commands[i].name);
  }
  for (const CommandSpec& spec : commands) {
    EXPECT_EQ(FindCommand(spec.name), &spec);
    EXPECT_TRUE(spec.handler != nullptr || !spec.subcommands.empty()) << spec.name;
    for (size_t i = 1; i < spec.subcommands.size(); ++i) {
      EXPECT_LT(spec.subcommands[i - 1].name, spec.subcommands[i].name);
    }
  }
}

TEST_F(EngineTest, InfoCarriesWhatLibrariesRead) {
  Client& a = NewClient();
  One(a, {"LOCK", "k", "me", "1000"});
  One(a, {"LOCK", "k", "you", "1000"});
  const std::string info = One(a, {"INFO"}).text;
  for (const char* field : {"redis_version:", "loading:0\r\n", "role:master\r\n",
                            "connected_clients:1\r\n", "locks_granted:1\r\n",
                            "locks_denied:1\r\n", "leases_held:1\r\n", "db0:keys=1,",
                            "member_state:ok\r\n"}) {
    EXPECT_NE(info.find(field), std::string::npos) << field;
  }
  const std::string stats = One(a, {"INFO", "STATS"}).text;
  EXPECT_EQ(stats.find("# Server"), std::string::npos);
  EXPECT_NE(stats.find("# Stats"), std::string::npos);
  One(a, {"HELLO", "3"});
  EXPECT_EQ(One(a, {"INFO", "server"}).type, Reply::Type::kVerbatim);
}

TEST_F(EngineTest, ConfigGetMatchesPatterns) {
  Client& a = NewClient();
  const Reply all = One(a, {"CONFIG", "GET", "max-lease-ms"});
  ASSERT_EQ(all.elements.size(), 2u);
  EXPECT_EQ(all.elements[1].text, "60000");
  const Reply several = One(a, {"CONFIG", "GET", "proto-*", "port"});
  EXPECT_EQ(several.elements.size(), 6u);
  EXPECT_EQ(One(a, {"CONFIG", "GET", "save"}).elements.size(), 0u) << "unknown: empty, like Redis";
  EXPECT_EQ(One(a, {"CONFIG", "SET", "port", "1"}).text, errors::kConfigSet);
}

}  // namespace
}  // namespace lockerd::server
