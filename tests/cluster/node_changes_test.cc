// What a member reports for the append-only log (Node::TakeChanges): each
// register whose promise or accepted state changed, once, with the
// counters; nothing for a turn that changed nothing, nor for an expiry.
// Replaying the reports restarts the member with every promise and token.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "cluster/node.h"
#include "tests/cluster/node_calls.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;

NodeOptions Options() {
  NodeOptions options;
  options.membership = cluster::Membership::Initial(1);
  options.max_lease_ms = 10'000;
  return options;
}

WriteResult Write(Node& node, WriteOp op, const std::string& key, const std::string& owner,
                  int64_t ttl_ms, Time now) {
  return WriteOnce(node, op, key, owner, ttl_ms, now);
}

// What a replay of the reports keeps (the last record of each key, the
// largest counters), and the member restarted from it.
class Replayed {
 public:
  void Keep(const NodeState& changes) {
    for (const SavedRegister& reg : changes.registers) keys_[reg.key] = reg;
    state_.token_counter = std::max(state_.token_counter, changes.token_counter);
    state_.ballot_floor = std::max(state_.ballot_floor, changes.ballot_floor);
  }
  std::unique_ptr<Node> Restart(Time now) {
    NodeState state = state_;
    for (const auto& [key, reg] : keys_) state.registers.push_back(reg);
    auto node = std::make_unique<Node>(Options());
    StartFacts facts;
    facts.saved = std::move(state);
    facts.downtime_ms = 0;
    node->Start(facts, now);
    return node;
  }

 private:
  NodeState state_;
  std::map<std::string, SavedRegister> keys_;
};

class NodeChanges : public ::testing::Test {
 protected:
  NodeChanges() : node_(Options()) {
    node_.Start({}, now_);
    node_.TrackChanges();
    (void)node_.TakeChanges(now_);  // What the start set.
  }
  Node node_;
  Time now_{1000, kWallMs};
};

TEST_F(NodeChanges, AGrantIsReportedOnceWithItsToken) {
  const WriteResult granted = Write(node_, WriteOp::kLock, "k", "alice", 5000, now_);
  ASSERT_EQ(granted.outcome, WriteOutcome::kDone);
  const auto changes = node_.TakeChanges(now_);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->registers.size(), 1u);
  EXPECT_EQ(changes->registers[0].key, "k");
  EXPECT_TRUE(changes->registers[0].held);
  EXPECT_EQ(changes->registers[0].owner, "alice");
  EXPECT_EQ(changes->registers[0].token, granted.token);
  EXPECT_EQ(changes->registers[0].remaining_ms, 5000);
  EXPECT_GE(changes->token_counter, granted.token);
  EXPECT_GE(changes->ballot_floor, changes->registers[0].accepted);
  EXPECT_FALSE(node_.TakeChanges(now_)) << "nothing changed since";
}

// An expiry is not a change (the lease's record carries its deadline); a
// member alone keeps no tombstone, so the register is then erased, and the
// erasure is recorded: free, at the ballots it had.
TEST_F(NodeChanges, AnExpiryIsNotAChangeButAnErasureAndAReleaseAre) {
  ASSERT_EQ(Write(node_, WriteOp::kLock, "k", "alice", 100, now_).outcome, WriteOutcome::kDone);
  const auto granted = node_.TakeChanges(now_);
  ASSERT_TRUE(granted);
  const Time later{now_.mono_ms + 200, kWallMs + 200};
  node_.Tick(later);
  const auto erased = node_.TakeChanges(later);
  ASSERT_TRUE(erased);
  ASSERT_EQ(erased->registers.size(), 1u);
  EXPECT_FALSE(erased->registers[0].held);
  EXPECT_EQ(erased->registers[0].remaining_ms, 0);
  EXPECT_EQ(erased->registers[0].accepted, granted->registers[0].accepted);
  EXPECT_FALSE(node_.TakeChanges(later));
  ASSERT_EQ(Write(node_, WriteOp::kLock, "k", "bob", 1000, later).outcome, WriteOutcome::kDone);
  ASSERT_EQ(Write(node_, WriteOp::kRelease, "k", "bob", 0, later).outcome, WriteOutcome::kDone);
  const auto changes = node_.TakeChanges(later);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->registers.size(), 1u) << "one record per key per turn";
  EXPECT_FALSE(changes->registers[0].held);
}

// The reports, replayed in order (last state of each key wins), restart a
// member that keeps every lease and never reuses a token.
TEST_F(NodeChanges, ReplayedReportsRestartWithLeasesAndTokens) {
  Replayed replayed;
  uint64_t last_token = 0;
  for (int i = 0; i < 5; ++i) {
    const WriteResult r = Write(node_, WriteOp::kLock, "k" + std::to_string(i % 2), "o", 5000, now_);
    if (r.outcome == WriteOutcome::kDone) last_token = std::max(last_token, r.token);
    if (auto changes = node_.TakeChanges(now_)) replayed.Keep(*changes);
  }
  const auto restarted = replayed.Restart(now_);
  EXPECT_EQ(Write(*restarted, WriteOp::kLock, "k0", "other", 1000, now_).outcome, WriteOutcome::kRefused)
      << "the lease survived";
  const WriteResult fresh = Write(*restarted, WriteOp::kLock, "k9", "other", 1000, now_);
  ASSERT_EQ(fresh.outcome, WriteOutcome::kDone);
  EXPECT_GT(fresh.token, last_token) << "tokens keep growing";
}

// A member alone keeps no tombstone: a RELEASE in one loop turn's poll
// phase, then the next turn's timer (which erases the freed register)
// before that turn's commit. The erasure is reported, so a replay does not
// bring the released lease back (found by a review of appendonly).
TEST_F(NodeChanges, AReleaseErasedBeforeTheCommitIsStillReported) {
  Replayed replayed;
  const WriteResult granted = Write(node_, WriteOp::kLock, "k", "alice", 5000, now_);
  ASSERT_EQ(granted.outcome, WriteOutcome::kDone);
  if (auto changes = node_.TakeChanges(now_)) replayed.Keep(*changes);  // Turn 1's commit.
  const Time later{now_.mono_ms + 1, now_.wall_ms + 1};
  ASSERT_EQ(Write(node_, WriteOp::kRelease, "k", "alice", 0, later).outcome, WriteOutcome::kDone);
  node_.Tick(later);  // Turn 3's timer, before its commit.
  if (auto changes = node_.TakeChanges(later)) replayed.Keep(*changes);
  const auto restarted = replayed.Restart(later);
  EXPECT_EQ(restarted->table().FindHeld("k", later.mono_ms), nullptr)
      << "the acknowledged RELEASE was lost: alice holds k again";
  EXPECT_EQ(Write(*restarted, WriteOp::kLock, "k", "bob", 1000, later).outcome, WriteOutcome::kDone);
  const WriteResult again = Write(*restarted, WriteOp::kLock, "k", "alice", 1000, later);
  EXPECT_NE(again.token, granted.token) << "a new acquire got the released lease's token again";
}

}  // namespace
}  // namespace lockerd::cluster
