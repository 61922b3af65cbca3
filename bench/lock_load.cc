// lock_load: drives lockerd with LOCK+RELEASE pairs from C concurrent
// clients (threads with blocking hiredis connections) for a fixed time and
// prints pairs/s and LOCK latency percentiles. With several --port values,
// clients spread over them (a cluster's members).
//
//   lock_load --port 7001 --port 7002 --clients 50 --seconds 3
//   lock_load --port 7001 --clients 50 --hot     (one contended key, WAIT)
//
// In --hot mode every client takes the same key with LOCK ... WAIT and
// the output shows how many acquired it at least once (all should).
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> ports;
  int clients = 1;
  double seconds = 3;
  bool hot = false;
};

struct ClientResult {
  uint64_t pairs = 0;
  uint64_t errors = 0;
  std::vector<uint32_t> latencies_us;  // Of each LOCK.
};

redisReply* Run(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data()));
}

void Client(const Options& options, int id, Clock::time_point end, ClientResult* result) {
  redisContext* context = redisConnect("127.0.0.1", options.ports[id % options.ports.size()]);
  if (context == nullptr || context->err) {
    result->errors = 1;
    return;
  }
  const std::string owner = "client-" + std::to_string(id);
  uint64_t n = 0;
  while (Clock::now() < end) {
    const std::string key = options.hot ? "hot" : "key:" + std::to_string(id) + ":" + std::to_string(n++ % 1000);
    std::vector<std::string> lock = {"LOCK", key, owner, "5000"};
    if (options.hot) lock.insert(lock.end(), {"WAIT", "2000"});
    const auto start = Clock::now();
    redisReply* reply = Run(context, lock);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    if (reply == nullptr) break;
    const bool locked = reply->type == REDIS_REPLY_INTEGER;
    freeReplyObject(reply);
    if (!locked) {
      ++result->errors;
      continue;
    }
    result->latencies_us.push_back(static_cast<uint32_t>(micros));
    reply = Run(context, {"RELEASE", key, owner});
    if (reply == nullptr) break;
    freeReplyObject(reply);
    ++result->pairs;
  }
  redisFree(context);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) options.ports.push_back(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--clients") && i + 1 < argc) options.clients = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) options.seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--hot")) options.hot = true;
  }
  if (options.ports.empty()) {
    std::fprintf(stderr, "usage: lock_load --port P [--port P ...] [--clients C] [--seconds S] [--hot]\n");
    return 2;
  }
  std::vector<ClientResult> results(static_cast<size_t>(options.clients));
  std::vector<std::thread> threads;
  const auto began = Clock::now();
  const auto end = began + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  for (int i = 0; i < options.clients; ++i) threads.emplace_back(Client, options, i, end, &results[static_cast<size_t>(i)]);
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - began).count();
  uint64_t pairs = 0;
  uint64_t errors = 0;
  int acquired_at_least_once = 0;
  std::vector<uint32_t> latencies;
  for (const auto& result : results) {
    pairs += result.pairs;
    errors += result.errors;
    acquired_at_least_once += result.pairs > 0;
    latencies.insert(latencies.end(), result.latencies_us.begin(), result.latencies_us.end());
  }
  std::sort(latencies.begin(), latencies.end());
  const auto percentile = [&](double p) {
    return latencies.empty() ? 0u : latencies[static_cast<size_t>(p * (latencies.size() - 1))];
  };
  std::printf("pairs_per_s=%.0f lock_p50_us=%u lock_p99_us=%u clients=%d acquired_by=%d refused=%llu\n",
              static_cast<double>(pairs) / elapsed, percentile(0.5), percentile(0.99),
              options.clients, acquired_at_least_once, static_cast<unsigned long long>(errors));
  return 0;
}
