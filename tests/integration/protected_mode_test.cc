// Protected mode: while the default user needs no password (no requirepass,
// no `user default` with one), a client from a non-loopback address is
// refused with an error that says how to fix it; loopback clients and
// clients of a password-protected server are served.
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {
namespace {

// An IPv4 address of this machine that is not loopback, if it has one.
std::string NonLoopbackAddress() {
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return {};
  std::string found;
  for (ifaddrs* i = interfaces; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(interfaces);
  return found;
}

RedisPtr ConnectTo(const std::string& host, int port) {
  timeval timeout{5, 0};
  RedisPtr context(redisConnectWithTimeout(host.c_str(), port, timeout));
  if (context && context->err == 0) redisSetTimeout(context.get(), timeout);
  return context;
}

TEST(ProtectedMode, RefusesNonLoopbackClientsWithoutPassword) {
  const std::string address = NonLoopbackAddress();
  if (address.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  auto server = LockerdProcess::Start({.args = {"--bind", "0.0.0.0"}});
  RedisPtr remote = ConnectTo(address, server->port());
  ASSERT_TRUE(remote && remote->err == 0);
  ReplyPtr reply = Command(remote.get(), {"PING"});
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->type, REDIS_REPLY_ERROR);
  const std::string text(reply->str, reply->len);
  EXPECT_EQ(text.rfind("DENIED", 0), 0u) << text;
  EXPECT_NE(text.find("requirepass"), std::string::npos) << "says how to fix it: " << text;
  EXPECT_EQ(Command(remote.get(), {"PING"}), nullptr) << "and closes the connection";

  RedisPtr local = ConnectTo("127.0.0.1", server->port());
  ReplyPtr pong = Command(local.get(), {"PING"});
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(std::string(pong->str, pong->len), "PONG");
}

TEST(ProtectedMode, PasswordLetsRemoteClientsIn) {
  const std::string address = NonLoopbackAddress();
  if (address.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  auto server = LockerdProcess::Start({.args = {"--bind", "0.0.0.0", "--requirepass", "pw"}});
  RedisPtr remote = ConnectTo(address, server->port());
  ASSERT_TRUE(remote && remote->err == 0);
  ReplyPtr auth = Command(remote.get(), {"AUTH", "pw"});
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(std::string(auth->str, auth->len), "OK");
  ReplyPtr token = Command(remote.get(), {"LOCK", "k", "me", "1000"});
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(token->type, REDIS_REPLY_INTEGER);
}

// As in Redis, what counts is the default user: a password given by a
// `user default` rule ends protected mode; other users with passwords do not.
TEST(ProtectedMode, FollowsTheDefaultUsersPassword) {
  const std::string address = NonLoopbackAddress();
  if (address.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
  auto open = LockerdProcess::Start(
      {.args = {"--bind", "0.0.0.0", "--user", "alice", "on", ">pw", "~*", "+@all"}});
  RedisPtr refused = ConnectTo(address, open->port());
  ASSERT_TRUE(refused && refused->err == 0);
  ReplyPtr denied = Command(refused.get(), {"AUTH", "alice", "pw"});
  ASSERT_NE(denied, nullptr);
  EXPECT_EQ(std::string(denied->str, denied->len).rfind("DENIED", 0), 0u);

  auto closed = LockerdProcess::Start(
      {.args = {"--bind", "0.0.0.0", "--user", "default", "on", ">pw", "~*", "+@all"}});
  RedisPtr remote = ConnectTo(address, closed->port());
  ASSERT_TRUE(remote && remote->err == 0);
  ReplyPtr auth = Command(remote.get(), {"AUTH", "pw"});
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(std::string(auth->str, auth->len), "OK");
}

}  // namespace
}  // namespace lockerd::testing
