// A whole command through the engine on a member alone: parse-free LOCK then
// RELEASE, through the coordinator's round and the acceptor, reply written.
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "server/engine/engine.h"
#include "server/commands/command_table.h"

namespace {

using lockerd::server::Client;
using lockerd::server::Config;
using lockerd::server::Engine;
using lockerd::server::LockerdCommands;

void BM_EngineLockRelease(benchmark::State& state) {
  Config config;
  lockerd::cluster::Time now{0, 1'700'000'000'000};
  Engine engine(LockerdCommands(), config, now);
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

// Waking the next of N clients blocked in LOCK ... WAIT on one key: the
// holder releases, the first waiter is granted the lock, and the old holder
// queues again at the back, so the queue stays N long. The cost per wake
// must not grow with N (10,000 blocked clients woken one by one cost O(1)
// each).
void BM_WakeNextWaiter(benchmark::State& state) {
  const auto waiters = static_cast<size_t>(state.range(0));
  Config config;
  config.maxwaiters_per_key = waiters + 1;
  lockerd::cluster::Time now{0, 1'700'000'000'000};
  Engine engine(LockerdCommands(), config, now);
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> owners;
  for (size_t i = 0; i <= waiters; ++i) {
    clients.push_back(std::make_unique<Client>(engine.NextClientId(), "127.0.0.1:1", "127.0.0.1:6379", 0));
    engine.AddClient(clients.back().get());
    owners.push_back("owner-" + std::to_string(i));
  }
  auto lock_wait = [&](size_t i) {
    const std::vector<std::string> args = {"LOCK", "hot", owners[i], "60000", "WAIT", "600000"};
    engine.Execute(*clients[i], args, now);
  };
  std::deque<size_t> queue;
  for (size_t i = 0; i <= waiters; ++i) {
    lock_wait(i);
    if (i > 0) queue.push_back(i);
  }
  size_t holder = 0;
  lockerd::server::BufferedTurnDriver driver;
  std::vector<lockerd::cluster::Message> peer_messages;
  for (auto _ : state) {
    const std::vector<std::string> release = {"RELEASE", "hot", owners[holder]};
    engine.Execute(*clients[holder], release, now);
    engine.EndTurn(now, driver, &peer_messages);
    const size_t next = queue.front();
    queue.pop_front();
    if (clients[next]->reply().empty() || clients[next]->reply()[0] != ':') {
      state.SkipWithError("the first waiter was not granted the lock");
      break;
    }
    clients[next]->reply().clear();
    clients[holder]->reply().clear();
    lock_wait(holder);  // The old holder waits again, at the back.
    queue.push_back(holder);
    holder = next;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  for (auto& client : clients) engine.RemoveClient(client.get());
}
BENCHMARK(BM_WakeNextWaiter)->Arg(100)->Arg(10000)->Arg(100000);

}  // namespace
