// The cluster state machine without IO: three members in memory, messages
// handed straight from outbox to inbox. One LOCK and one RELEASE per
// iteration, each a full round (promise, accept, learn), so the time is the
// protocol's CPU cost per write, with the network taken out.
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "cluster/node.h"

namespace {

using lockerd::cluster::Message;
using lockerd::cluster::Node;
using lockerd::cluster::NodeOptions;
using lockerd::cluster::Time;
using lockerd::cluster::WriteOp;
using lockerd::cluster::WriteOutcome;
using lockerd::cluster::WriteRequest;
using lockerd::cluster::WriteResult;

class Trio {
 public:
  Trio() {
    for (uint32_t id = 0; id < 3; ++id) {
      NodeOptions options;
      options.membership = lockerd::cluster::Membership::Initial(3);
      options.self = id;
      nodes_[id] = std::make_unique<Node>(options);
    }
  }

  // Delivers messages until none is left; returns the coordinator's results.
  size_t Settle(std::vector<WriteResult>* results) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto& node : nodes_) {
        outbox_.clear();
        node->TakeOutbox(&outbox_);
        for (const Message& message : outbox_) {
          nodes_[message.to]->Receive(message, now_);
          moved = true;
        }
      }
    }
    results->clear();
    nodes_[0]->TakeResults(results);
    return results->size();
  }

  Node& coordinator() { return *nodes_[0]; }
  Time now() const { return now_; }

 private:
  std::array<std::unique_ptr<Node>, 3> nodes_;
  std::vector<Message> outbox_;
  Time now_{0, 1'700'000'000'000};
};

WriteRequest Request(WriteOp op, const std::string& key, uint64_t id) {
  WriteRequest request;
  request.request_id = id;
  request.op = op;
  request.key = key;
  request.owner = "8f14e45f-ceea-467f-a0e6";
  request.ttl_ms = 5000;
  return request;
}

// `state.range(0)` writes submitted together before any message moves (a
// loop turn's worth of clients), then as many releases.
void BM_ClusterRound(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  Trio trio;
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back("key:" + std::to_string(i));
  std::vector<WriteResult> results;
  uint64_t id = 1;
  size_t next = 0;
  for (auto _ : state) {
    for (WriteOp op : {WriteOp::kLock, WriteOp::kRelease}) {
      for (size_t k = 0; k < batch; ++k) {
        trio.coordinator().Submit(Request(op, keys[(next + k) % keys.size()], id++), trio.now());
      }
      if (trio.Settle(&results) != batch || results[0].outcome != WriteOutcome::kDone) {
        state.SkipWithError("a write did not complete");
        return;
      }
    }
    next += batch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2 * batch));
}
BENCHMARK(BM_ClusterRound)->Arg(1)->Arg(64);

}  // namespace
