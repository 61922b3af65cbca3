// A whole command through the engine on a member alone: parse-free LOCK then
// RELEASE, through the coordinator's round and the acceptor, reply written.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "server/engine.h"

namespace {

using lockerd::server::Client;
using lockerd::server::Config;
using lockerd::server::Engine;

void BM_EngineLockRelease(benchmark::State& state) {
  Config config;
  lockerd::cluster::Time now{0, 1'700'000'000'000};
  Engine engine(config, now);
  Client client(engine.NextClientId(), "127.0.0.1:1", "127.0.0.1:6379", 0);
  engine.AddClient(&client);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("key:" + std::to_string(i));
  std::vector<std::string> lock = {"LOCK", "", "8f14e45f-ceea-467f-a0e6-8e3a1f1c2b7d", "5000"};
  std::vector<std::string> release = {"RELEASE", "", "8f14e45f-ceea-467f-a0e6-8e3a1f1c2b7d"};
  size_t i = 0;
  for (auto _ : state) {
    lock[1] = keys[i];
    release[1] = keys[i];
    engine.Execute(client, lock, now);
    engine.Execute(client, release, now);
    client.reply().clear();
    i = (i + 1) % keys.size();
  }
  state.SetItemsProcessed(state.iterations() * 2);
  engine.RemoveClient(&client);
}
BENCHMARK(BM_EngineLockRelease);

}  // namespace
