// A change whose register is erased before the turn's TakeChanges is still
// reported (found by a review of appendonly). A member alone keeps
// no tombstone (idle 0), so a RELEASE processed in one loop turn's poll
// phase, followed by the next turn's timer (Tick, which erases the freed
// register) before that turn's commit, leaves only the lease's older record
// in the log unless the erasure is recorded: a replay would bring the
// released lease back.
#include <gtest/gtest.h>

#include <map>

#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;

NodeOptions Options() {
  NodeOptions options;
  options.members_count = 1;
  options.max_lease_ms = 10'000;
  return options;
}

WriteResult Write(Node& node, WriteOp op, const std::string& key, const std::string& owner,
                  int64_t ttl_ms, Time now) {
  WriteRequest request;
  request.request_id = 1;
  request.op = op;
  request.key = key;
  request.owner = owner;
  request.ttl_ms = ttl_ms;
  node.Submit(request, now);
  std::vector<WriteResult> results;
  node.TakeResults(&results);
  return results.empty() ? WriteResult{} : results[0];
}

TEST(NodeChangesErased, AReleaseErasedBeforeTheCommitIsStillReported) {
  Node node(Options());
  Time now{1000, kWallMs};
  node.Start({}, now);
  node.TrackChanges();
  (void)node.TakeChanges(now);

  std::map<std::string, SavedRegister> log;  // What a replay keeps: the last record per key.
  NodeState replayed;
  const auto commit = [&](Time at) {
    if (auto changes = node.TakeChanges(at)) {
      for (const SavedRegister& reg : changes->registers) log[reg.key] = reg;
      replayed.token_counter = std::max(replayed.token_counter, changes->token_counter);
      replayed.ballot_floor = std::max(replayed.ballot_floor, changes->ballot_floor);
    }
  };
  const WriteResult granted = Write(node, WriteOp::kLock, "k", "alice", 5000, now);
  ASSERT_EQ(granted.outcome, WriteOutcome::kDone);
  commit(now);  // Turn 1: the grant is logged, then answered.

  // Turn 2's poll phase: RELEASE (answered :1 at turn 3's commit).
  const Time later{now.mono_ms + 1, now.wall_ms + 1};
  ASSERT_EQ(Write(node, WriteOp::kRelease, "k", "alice", 0, later).outcome, WriteOutcome::kDone);
  // Turn 3: its timer phase runs first (a due timer: Server::OnTimer ->
  // Engine::Tick -> Node::Tick), then OnPrepare commits, then the reply.
  node.Tick(later);
  commit(later);

  for (auto& [key, reg] : log) replayed.registers.push_back(reg);
  Node restarted(Options());
  StartFacts facts;
  facts.saved = replayed;
  facts.downtime_ms = 0;
  restarted.Start(facts, later);
  EXPECT_EQ(restarted.table().FindHeld("k", later.mono_ms), nullptr)
      << "the acknowledged RELEASE was lost: the replayed log has alice holding k again";
  const WriteResult other = Write(restarted, WriteOp::kLock, "k", "bob", 1000, later);
  EXPECT_EQ(other.outcome, WriteOutcome::kDone) << "k is free after its release";
  const WriteResult again = Write(restarted, WriteOp::kLock, "k", "alice", 1000, later);
  EXPECT_NE(again.token, granted.token) << "a new acquire got the released lease's token again";
}

}  // namespace
}  // namespace lockerd::cluster
