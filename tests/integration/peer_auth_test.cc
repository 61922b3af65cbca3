// Peers prove themselves with the cluster secret; nobody else may speak the
// cluster's protocol.
#include <gtest/gtest.h>

#include "tests/support/lockerd_cluster.h"

namespace lockerd::testing {
namespace {

std::string Text(const ReplyPtr& reply) {
  return reply && reply->str ? std::string(reply->str, reply->len) : "";
}

TEST(PeerAuth, WrongSecretIsRefusedAndLogged) {
  auto cluster = LockerdCluster::Start(3, {"--max-lease-ms", "1500"});
  RedisPtr intruder = cluster->Connect(0);
  ReplyPtr refused = Command(intruder.get(), {"PEER", "HELLO", "1", "3", "guess", "f"});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Text(refused), "ERR peer handshake refused: wrong cluster secret");
  EXPECT_EQ(Command(intruder.get(), {"PING"}), nullptr) << "and closed";
  EXPECT_NE(cluster->member(0).Log().find("Refused peer handshake"), std::string::npos);
  RedisPtr client = cluster->Connect(0);
  EXPECT_EQ(InfoField(client.get(), "peer_handshakes_refused"), "1");
}

TEST(PeerAuth, ClusterMessagesNeedAHandshake) {
  auto cluster = LockerdCluster::Start(3, {"--max-lease-ms", "1500"});
  RedisPtr client = cluster->Connect(1);
  ReplyPtr refused = Command(client.get(), {"PEER", "ACCEPT", "1", "k", "99", "0", "1", "evil", "1", "1000"});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Text(refused).rfind("NOPERM", 0), 0u) << Text(refused);
  RedisPtr reader = cluster->Connect(1);
  EXPECT_EQ(Command(reader.get(), {"GET", "k"})->type, REDIS_REPLY_NIL) << "nothing was applied";
}

TEST(PeerAuth, AMemberAloneRefusesPeers) {
  auto server = LockerdProcess::Start();
  RedisPtr client = server->Connect();
  ReplyPtr refused = Command(client.get(), {"PEER", "HELLO", "1", "3", "x", "f"});
  EXPECT_EQ(Text(refused), "ERR peer handshake refused: this member is not in a cluster");
}

}  // namespace
}  // namespace lockerd::testing

namespace lockerd::testing {
namespace {

TEST(PeerAuth, MembersWithDifferentListsRefuseEachOther) {
  // Two members whose lists name the same addresses in another order would
  // route messages to the wrong member: the handshake must refuse them.
  const int a = FreePort();
  int b = FreePort();
  while (b == a) b = FreePort();
  const std::string pa = "127.0.0.1:" + std::to_string(a);
  const std::string pb = "127.0.0.1:" + std::to_string(b);
  auto first = LockerdProcess::Start(
      {.args = {"--cluster", pa + "," + pb, "--advertise", pa, "--cluster-secret", "s"}, .port = a});
  auto second = LockerdProcess::Start(
      {.args = {"--cluster", pb + "," + pa, "--advertise", pb, "--cluster-secret", "s"}, .port = b});
  RedisPtr client = first->Connect();
  EXPECT_TRUE(WaitForInfoField(client.get(), "peer_handshakes_refused", "1", std::chrono::seconds(5)) ||
              InfoField(client.get(), "peer_handshakes_refused") != "0");
  EXPECT_EQ(InfoField(client.get(), "cluster_reachable_members"), "1");
  EXPECT_NE(first->Log().find("differ between members"), std::string::npos);
}

}  // namespace
}  // namespace lockerd::testing
