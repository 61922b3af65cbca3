// The cost of a script call without IO: the redis-py release script run by
// the Lua engine against a one-key snapshot (what a member does between the
// promises and the commits of a scripted release), next to the decision a
// native RELEASE takes.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "cluster/decision.h"
#include "server/script/lua_engine.h"
#include "server/commands/script_keys.h"

namespace {

using lockerd::server::script::LuaEngine;
using lockerd::server::script::ScriptKeys;

constexpr const char* kRelease =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

void BM_ScriptRelease(benchmark::State& state) {
  LuaEngine lua({});
  const std::string sha = std::get<0>(lua.Load(kRelease));
  const std::vector<std::string> keys = {"lock:a"};
  const std::vector<std::string> argv = {"owner-1"};
  const std::vector<lockerd::cluster::LeaseView> leases = {{true, "owner-1", 7, 10'000}};
  for (auto _ : state) {
    ScriptKeys snapshot({keys, leases, 7, 0}, {});
    const auto run = lua.Run(sha, keys, argv, [&snapshot](std::span<const std::string> args) {
      return snapshot.Call(args);
    });
    benchmark::DoNotOptimize(run.reply.integer);
    benchmark::DoNotOptimize(snapshot.Writes());
  }
}
BENCHMARK(BM_ScriptRelease);

void BM_NativeReleaseDecision(benchmark::State& state) {
  lockerd::cluster::WriteRequest request;
  request.op = lockerd::cluster::WriteOp::kRelease;
  request.key = "lock:a";
  request.owner = "owner-1";
  const lockerd::cluster::LeaseView lease{true, "owner-1", 7, 10'000};
  for (auto _ : state) {
    const auto decision = lockerd::cluster::DecideWrite({request, lease, {}, 7, 0, 0.01, 60'000});
    benchmark::DoNotOptimize(decision.kind);
  }
}
BENCHMARK(BM_NativeReleaseDecision);

}  // namespace
