// Pipelined writes on a cluster: a client's LOCK, EXTEND, RELEASE and UPDATE
// run their rounds concurrently, yet every reply comes back in command order
// and a command after them (a read, LOCK ... WAIT) sees them done, as if
// the pipeline ran one command at a time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/lockerd_cluster.h"

namespace lockerd::testing {
namespace {

void Pipeline(redisContext* client, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& command : commands) ASSERT_TRUE(SendCommand(client, command));
}

TEST(PipelinedWrites, RepliesComeBackInOrderAndReadsSeeEarlierWrites) {
  auto cluster = LockerdCluster::Start(3);
  RedisPtr client = cluster->Connect(0);
  Pipeline(client.get(), {{"LOCK", "a", "me", "5000"},
                          {"LOCK", "b", "me", "5000"},
                          {"GET", "a"},               // A read after writes in flight.
                          {"RELEASE", "a", "me"},
                          {"LOCK", "a", "you", "5000"},
                          {"LOCKINFO", "a"},
                          {"EXTEND", "b", "me", "9000"},
                          {"UPDATE", "b", "me", "them"},
                          {"RELEASE", "b", "me"},     // No longer the owner.
                          {"PING"}});
  ReplyPtr lock_a = GetReply(client.get());
  ReplyPtr lock_b = GetReply(client.get());
  ReplyPtr get_a = GetReply(client.get());
  ReplyPtr release_a = GetReply(client.get());
  ReplyPtr relock_a = GetReply(client.get());
  ReplyPtr info_a = GetReply(client.get());
  ReplyPtr extend_b = GetReply(client.get());
  ReplyPtr update_b = GetReply(client.get());
  ReplyPtr release_b = GetReply(client.get());
  ReplyPtr ping = GetReply(client.get());
  ASSERT_TRUE(lock_a && lock_b && get_a && release_a && relock_a && info_a && extend_b && update_b &&
              release_b && ping);
  ASSERT_EQ(lock_a->type, REDIS_REPLY_INTEGER);
  ASSERT_EQ(lock_b->type, REDIS_REPLY_INTEGER);
  ASSERT_EQ(get_a->type, REDIS_REPLY_STRING);
  EXPECT_STREQ(get_a->str, "me") << "the read ran after the LOCK before it";
  EXPECT_EQ(release_a->integer, 1);
  ASSERT_EQ(relock_a->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(relock_a->integer, lock_a->integer) << "a new holder, a larger token";
  ASSERT_EQ(info_a->type, REDIS_REPLY_ARRAY);
  EXPECT_STREQ(info_a->element[1]->str, "you");
  EXPECT_EQ(extend_b->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(extend_b->integer, lock_b->integer) << "a renewal keeps the token";
  EXPECT_EQ(update_b->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(release_b->integer, 0) << "UPDATE handed b to 'them' before this RELEASE";
  EXPECT_STREQ(ping->str, "PONG");
}

void ThousandsLongPipeline(LockerdCluster* cluster) {
  RedisPtr client = cluster->Connect(1);
  constexpr int kKeys = 3000;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(SendCommand(client.get(), {"LOCK", "k" + std::to_string(i), "me", "30000"}));
  }
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(SendCommand(client.get(), {"RELEASE", "k" + std::to_string(i), "me"}));
  }
  ASSERT_TRUE(SendCommand(client.get(), {"DBSIZE"}));
  for (int i = 0; i < kKeys; ++i) {
    ReplyPtr reply = GetReply(client.get());
    ASSERT_TRUE(reply) << "LOCK " << i;
    ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER) << "LOCK " << i << ": " << (reply->str ? reply->str : "");
  }
  for (int i = 0; i < kKeys; ++i) {
    ReplyPtr reply = GetReply(client.get());
    ASSERT_TRUE(reply) << "RELEASE " << i;
    ASSERT_EQ(reply->integer, 1) << "RELEASE " << i;
  }
  ReplyPtr dbsize = GetReply(client.get());
  ASSERT_TRUE(dbsize);
  EXPECT_EQ(dbsize->integer, 0) << "DBSIZE ran after every RELEASE";
}

TEST(PipelinedWrites, AThousandsLongPipelineIsAnsweredInFull) {
  // More than kClientWritesInFlightMax (1024): the client's input waits
  // for room, then goes on.
  auto cluster = LockerdCluster::Start(3);
  ThousandsLongPipeline(cluster.get());
}

TEST(PipelinedWrites, PeerBatchesMayExceedTheClientsBulkLimit) {
  // A member sends a loop turn's messages as one PEER BATCH; a thousand
  // rounds at once make batches far over a 1 KB proto-max-bulk-len, which
  // binds clients, not peers.
  auto cluster = LockerdCluster::Start(3, {"--proto-max-bulk-len", "1024"});
  ThousandsLongPipeline(cluster.get());
  for (size_t i = 0; i < cluster->size(); ++i) {
    RedisPtr member = cluster->Connect(i);
    const std::string info = Command(member.get(), {"INFO", "cluster"})->str;
    EXPECT_NE(info.find("peer_messages_malformed:0"), std::string::npos) << info;
    EXPECT_NE(info.find("cluster_reachable_members:3"), std::string::npos) << info;
  }
}

}  // namespace
}  // namespace lockerd::testing
