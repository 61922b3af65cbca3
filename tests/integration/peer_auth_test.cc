// Peers prove themselves with the cluster secret (an HMAC challenge, see
// server/peer/auth.h); nobody else may speak the cluster's protocol.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/reply_text.h"

namespace lockerd::testing {
namespace {

TEST(PeerAuth, AMemberWithTheWrongSecretIsRefusedAndLogged) {
  // Members 0 and 1 share the secret; member 2 was given another one. The
  // two keep their majority; member 2 reaches no one, and each side logs why.
  std::vector<int> ports;
  while (ports.size() < 3) {
    const int port = FreePort();
    if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
  }
  std::string list;
  for (const int port : ports) list += (list.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(port));
  std::vector<std::unique_ptr<LockerdProcess>> members;
  for (size_t i = 0; i < 3; ++i) {
    const std::string self = "127.0.0.1:" + std::to_string(ports[i]);
    members.push_back(LockerdProcess::Start(
        {.args = {"--cluster", list, "--advertise", self, "--cluster-secret",
                  i == 2 ? "not-the-secret" : "the-secret", "--max-lease-ms", "1500",
                  "--initial-cluster-state", "new"},
         .port = ports[i]}));
  }
  RedisPtr good = members[0]->Connect();
  RedisPtr odd = members[2]->Connect();
  ASSERT_TRUE(WaitForInfoField(good.get(), "cluster_reachable_members", "2", std::chrono::seconds(5)));
  ASSERT_TRUE(Eventually([&] { return InfoField(good.get(), "peer_handshakes_refused") != "0"; }));
  ASSERT_TRUE(Eventually([&] { return InfoField(odd.get(), "peer_handshakes_refused") != "0"; }));
  EXPECT_EQ(InfoField(odd.get(), "cluster_reachable_members"), "1");
  EXPECT_NE(members[0]->Log().find("Refused peer handshake"), std::string::npos);
  EXPECT_NE(members[0]->Log().find("wrong cluster secret"), std::string::npos);
  EXPECT_NE(members[2]->Log().find("wrong cluster secret"), std::string::npos);
  // A new cluster with a member missing cannot tell itself from one that lost
  // its disks: started as new (initial-cluster-state), members 0 and 1 vote
  // once their quarantine is over (CLUSTER-SAFETY.md, "Restarts").
  for (size_t i = 0; i < 2; ++i) {
    RedisPtr member = members[i]->Connect();
    ASSERT_TRUE(WaitForInfoField(member.get(), "member_state", "ok", std::chrono::seconds(20)))
        << members[i]->Log();
  }
  ReplyPtr granted = Command(good.get(), {"LOCK", "k", "me", "1000"});
  EXPECT_EQ(granted->type, REDIS_REPLY_INTEGER) << "the two members with the secret are a majority: "
                                                << Text(granted);
  ReplyPtr refused = Command(odd.get(), {"LOCK", "k2", "me", "1000"});
  EXPECT_EQ(refused->type, REDIS_REPLY_ERROR) << "member 2 alone is no majority";
  for (const auto& member : members) {
    EXPECT_EQ(member->Log().find("the-secret"), std::string::npos) << "secrets are not logged";
    EXPECT_NE(member->Log().find("cluster-secret is only"), std::string::npos)
        << "a short secret draws a warning";
  }
}

TEST(PeerAuth, AStrangerGuessingIsRefused) {
  auto cluster = LockerdCluster::Start(3, {"--max-lease-ms", "1500"});
  RedisPtr intruder = cluster->Connect(0);
  ReplyPtr refused = Command(intruder.get(), {"PEER", "AUTH", std::string(64, '0')});
  ASSERT_EQ(refused->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Text(refused), "ERR peer handshake refused: PEER AUTH without PEER HELLO");
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
