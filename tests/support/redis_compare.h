// Helpers for tests that send the same calls to redis-server and to lockerd
// and compare the replies (tests/integration/redis_semantics_test.cc,
// transactions_test.cc): replies as text, arrays included, and calls sent
// in one go, as pipelines and transactions send them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/lockerd_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/reply_text.h"

namespace lockerd::testing {

using Calls = std::vector<std::vector<std::string>>;

// A test with a redis-server of its own to compare with (skipped when
// redis-server is not installed).
class AgainstRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = RedisServerProcess::Start();
    if (!redis_) GTEST_SKIP() << "redis-server is not installed";
  }
  std::unique_ptr<RedisServerProcess> redis_;
};

// Text(), with arrays as "[a, b, (nil)]".
inline std::string Shown(const redisReply* reply) {
  if (reply == nullptr) return "(no reply)";
  if (reply->type == REDIS_REPLY_NIL) return "(nil)";
  if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
  if (reply->type != REDIS_REPLY_ARRAY) return std::string(reply->str, reply->len);
  std::string text = "[";
  for (size_t i = 0; i < reply->elements; ++i) text += (i ? ", " : "") + Shown(reply->element[i]);
  return text + "]";
}

// The replies to `calls`, in order, as text.
inline std::vector<std::string> Replies(redisContext* client, const Calls& calls) {
  std::vector<std::string> replies;
  for (const std::vector<std::string>& call : calls) replies.push_back(Shown(Command(client, call).get()));
  return replies;
}

// Queues `call` on `client` without reading its reply.
inline void Append(redisContext* client, const std::vector<std::string>& call) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : call) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisAppendCommandArgv(client, static_cast<int>(argv.size()), argv.data(), lengths.data());
}

// The next reply `client` has, as text.
inline std::string NextReply(redisContext* client) {
  void* raw = nullptr;
  if (redisGetReply(client, &raw) != REDIS_OK) return "(no reply)";
  const ReplyPtr reply(static_cast<redisReply*>(raw));
  return Shown(reply.get());
}

// Two clients, each sending its half of every pair before either reads:
// the replies, pair by pair.
inline std::vector<std::string> RacedReplies(redisContext* first, redisContext* second, const Calls& calls) {
  std::vector<std::string> replies;
  for (const std::vector<std::string>& call : calls) {
    for (redisContext* client : {first, second}) Append(client, call);
    for (redisContext* client : {first, second}) replies.push_back(NextReply(client));
  }
  return replies;
}

// Sends `calls` in one go, as transaction pipelines do, then reads every reply.
inline std::vector<std::string> Pipelined(redisContext* client, const Calls& calls) {
  for (const std::vector<std::string>& call : calls) Append(client, call);
  std::vector<std::string> replies;
  for (size_t i = 0; i < calls.size(); ++i) replies.push_back(NextReply(client));
  return replies;
}

}  // namespace lockerd::testing
