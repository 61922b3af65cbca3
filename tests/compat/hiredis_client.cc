// hiredis (C), plain commands against lockerd, for the compatibility matrix
// (tests/compat/matrix.py): hiredis_client <port>; one JSON line per feature.
#include <hiredis/hiredis.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void Report(const char* feature, bool ok, const std::string& detail) {
  std::printf("{\"client\": \"hiredis\", \"feature\": \"%s\", \"ok\": %s, \"detail\": \"%s\"}\n",
              feature, ok ? "true" : "false", detail.c_str());
}

redisReply* Call(redisContext* context, const char* format, const char* key) {
  return static_cast<redisReply*>(redisCommand(context, format, key));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  redisContext* context = redisConnect("127.0.0.1", std::atoi(argv[1]));
  if (context == nullptr || context->err) {
    Report("connect", false, context ? context->errstr : "no context");
    return 1;
  }
  const char* key = "compat:hiredis";
  redisReply* reply = Call(context, "SET %s me NX PX 5000", key);
  bool ok = reply && reply->type == REDIS_REPLY_STATUS && std::string(reply->str) == "OK";
  freeReplyObject(reply);
  reply = Call(context, "GET %s", key);
  ok = ok && reply && reply->type == REDIS_REPLY_STRING && std::string(reply->str) == "me";
  freeReplyObject(reply);
  reply = Call(context, "DEL %s", key);
  ok = ok && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  freeReplyObject(reply);
  Report("SET NX PX, GET, DEL", ok, "");

  reply = Call(context, "LOCK %s me 5000", key);
  const long long token = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  freeReplyObject(reply);
  reply = Call(context, "LOCKINFO %s", key);
  ok = token > 0 && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 6 &&
       reply->element[3]->integer == token;
  freeReplyObject(reply);
  reply = Call(context, "RELEASE %s me", key);
  ok = ok && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  freeReplyObject(reply);
  Report("LOCK, LOCKINFO and RELEASE", ok, "token " + std::to_string(token));

  // Pipelined: commands appended, replies read in order.
  for (int i = 0; i < 100; ++i) redisAppendCommand(context, "LOCK compat:hiredis:%d me 5000", i);
  for (int i = 0; i < 100; ++i) redisAppendCommand(context, "RELEASE compat:hiredis:%d me", i);
  ok = true;
  for (int i = 0; i < 200; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK) {
      ok = false;
      break;
    }
    auto* one = static_cast<redisReply*>(raw);
    ok = ok && one->type == REDIS_REPLY_INTEGER && (i < 100 ? one->integer > 0 : one->integer == 1);
    freeReplyObject(one);
  }
  Report("pipelined LOCK and RELEASE", ok, "");
  redisFree(context);
  return 0;
}
