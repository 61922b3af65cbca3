// The races CLUSTER-SAFETY.md lists, each scripted step by step on three
// real cluster::Node members: the test decides which message is delivered,
// held back, duplicated or lost, and when time passes.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "cluster/broken.h"
#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'790'000'000'000;

class ScriptedCluster {
 public:
  explicit ScriptedCluster(size_t members = 3) : members_(members) {
    for (size_t i = 0; i < members; ++i) nodes_.push_back(MakeNode(i));
  }

  static NodeOptions Options(size_t self, size_t members) {
    NodeOptions options;
    options.members_count = members;
    options.self = static_cast<MemberId>(self);
    options.max_lease_ms = 1000;
    options.round_timeout_ms = 100;
    options.seed = 7 + self;
    return options;
  }

  Node& node(size_t i) { return *nodes_[i]; }
  Time now() const { return {now_ms_, kWallMs + now_ms_}; }

  // A client's write through member `via`; returns its request id.
  uint64_t Submit(size_t via, WriteOp op, const std::string& owner, int64_t ttl_ms = 500,
                  const std::string& key = "k") {
    WriteRequest request;
    request.request_id = next_id_++;
    request.op = op;
    request.key = key;
    request.owner = owner;
    request.ttl_ms = ttl_ms;
    nodes_[via]->Submit(request, now());
    Collect(via);
    return request.request_id;
  }

  // Delivers, in order, every in-flight message `pick` accepts; the rest
  // stay in flight. Repeats until none is picked (replies lead to more).
  void Deliver(const std::function<bool(const Message&)>& pick) {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < in_flight_.size(); ++i) {
        if (!pick(in_flight_[i])) continue;
        const Message message = in_flight_[i];
        in_flight_.erase(in_flight_.begin() + static_cast<long>(i));
        nodes_[message.to]->Receive(message, now());
        Collect(message.to);
        progress = true;
        break;
      }
    }
  }
  void DeliverAll() {
    Deliver([](const Message&) { return true; });
  }
  void Drop(const std::function<bool(const Message&)>& pick) {
    std::erase_if(in_flight_, pick);
  }
  const std::vector<Message>& in_flight() const { return in_flight_; }

  void Advance(int64_t ms) {
    now_ms_ += ms;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i]->Tick(now());
      Collect(i);
    }
  }

  // kill -9 and restart: memory lost, quarantine and sync.
  void CrashAndRestart(size_t i) {
    std::erase_if(in_flight_, [i](const Message& m) { return m.to == i; });
    nodes_[i] = MakeNode(i);
    nodes_[i]->StartQuarantine(now());
    Collect(i);
  }

  // Takes what member i produced into the network and the results.
  void Collect(size_t i) {
    std::vector<Message> outbox;
    nodes_[i]->TakeOutbox(&outbox);
    in_flight_.insert(in_flight_.end(), outbox.begin(), outbox.end());
    std::vector<WriteResult> results;
    nodes_[i]->TakeResults(&results);
    results_.insert(results_.end(), results.begin(), results.end());
  }

  std::optional<WriteResult> Result(uint64_t request_id) const {
    for (const WriteResult& result : results_) {
      if (result.request_id == request_id) return result;
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<Node> MakeNode(size_t i) { return std::make_unique<Node>(Options(i, members_)); }

  size_t members_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Message> in_flight_;
  std::vector<WriteResult> results_;
  int64_t now_ms_ = 1000;
  uint64_t next_id_ = 1;
};

bool IsAccept(const Message& m) { return std::holds_alternative<Accept>(m.body); }
bool IsPrepare(const Message& m) { return std::holds_alternative<Prepare>(m.body); }

// Race 1: a promise times out, a competitor promises higher, and the first
// coordinator's late commit arrives: it must be refused. Returns true when
// both writers were told they hold the key.
bool Race1BothHold() {
  ScriptedCluster cluster;
  const auto is = [](const Message& m, auto kind, size_t from, size_t to) {
    return std::holds_alternative<decltype(kind)>(m.body) && m.from == from && m.to == to;
  };
  // Member 0 gets promises from itself and member 1, and sends its commits;
  // they are slow to arrive.
  const uint64_t first = cluster.Submit(0, WriteOp::kLock, "first");
  cluster.Deliver([&](const Message& m) { return is(m, Prepare{}, 0, 1); });
  cluster.Deliver([&](const Message& m) { return is(m, Promise{}, 1, 0); });
  // Meanwhile a competitor through member 2 gets a higher promise from 1.
  const uint64_t second = cluster.Submit(2, WriteOp::kLock, "second");
  cluster.Deliver([&](const Message& m) { return is(m, Prepare{}, 2, 1); });
  cluster.Deliver([&](const Message& m) { return is(m, Promise{}, 1, 2); });
  // The first coordinator's late commit reaches member 1 now.
  cluster.Deliver([&](const Message& m) { return is(m, Accept{}, 0, 1); });
  cluster.Deliver([&](const Message& m) { return is(m, Accepted{}, 1, 0); });
  cluster.DeliverAll();
  return cluster.Result(first).value_or(WriteResult{}).outcome == WriteOutcome::kDone &&
         cluster.Result(second).value_or(WriteResult{}).outcome == WriteOutcome::kDone;
}

TEST(Races, LateCommitAfterAHigherPromiseIsRefused) { EXPECT_FALSE(Race1BothHold()); }

TEST(Races, LateCommitIsTakenWhenPromisesAreForgotten) {
  // The same script with the broken rule: the checker-visible failure.
  Broken().forget_promises = true;
  const bool both = Race1BothHold();
  Broken() = {};
  EXPECT_TRUE(both);
}

// Race 2: the coordinator pauses between promise and commit for longer than
// the ttl: no success reply with validity <= 0.
TEST(Races, CoordinatorPausedPastTheTtlDoesNotAnswerSuccess) {
  ScriptedCluster cluster;
  const uint64_t request = cluster.Submit(0, WriteOp::kLock, "slow", /*ttl_ms=*/50);
  // The promises are given at once, but member 0 is paused and reads them
  // 60 ms later: longer than the 50 ms ttl, shorter than the round timeout.
  cluster.Deliver([](const Message& m) { return IsPrepare(m); });
  cluster.Advance(60);
  cluster.DeliverAll();
  const auto result = cluster.Result(request);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, WriteOutcome::kNoQuorum) << "V = 50 * 0.99 - 60 <= 0";
  // The grant it wrote is rolled back: the key is free on every member.
  cluster.DeliverAll();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.node(i).table().FindHeld("k", cluster.now().mono_ms), nullptr) << i;
  }
}

// Race 3: commits duplicated or reordered are idempotent and never lower a
// register.
TEST(Races, DuplicatedAndReorderedCommitsChangeNothing) {
  ScriptedCluster cluster;
  const uint64_t lock = cluster.Submit(0, WriteOp::kLock, "a", 500);
  cluster.Deliver([](const Message& m) { return !IsAccept(m); });
  std::vector<Message> accepts = cluster.in_flight();  // Copies, to replay later.
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Result(lock)->outcome, WriteOutcome::kDone);
  const uint64_t release = cluster.Submit(1, WriteOp::kRelease, "a");
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Result(release)->outcome, WriteOutcome::kDone);
  // The old lock's commits arrive again, late and twice.
  for (int copy = 0; copy < 2; ++copy) {
    for (const Message& m : accepts) cluster.node(m.to).Receive(m, cluster.now());
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.node(i).table().FindHeld("k", cluster.now().mono_ms), nullptr)
        << "member " << i << " took the stale commit";
  }
  const uint64_t next = cluster.Submit(2, WriteOp::kLock, "b");
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Result(next)->outcome, WriteOutcome::kDone);
}

// Race 4: a commit reaches a member that restarted (losing memory) after
// promising: quarantine covers it. Returns the lock's outcome.
WriteOutcome Race4Outcome() {
  ScriptedCluster cluster;
  // Member 2 is cut off. Members 0 and 1 promise, and member 0 commits.
  const uint64_t lock = cluster.Submit(0, WriteOp::kLock, "a", 500);
  cluster.Drop([](const Message& m) { return m.to == 2; });
  cluster.Deliver([](const Message& m) { return !IsAccept(m); });
  std::vector<Message> commits;
  for (const Message& m : cluster.in_flight()) {
    if (IsAccept(m) && m.to == 1) commits.push_back(m);
  }
  // Member 1 crashes and restarts empty; then the commit reaches it (a
  // delayed packet, or a reconnect that resends).
  cluster.CrashAndRestart(1);
  cluster.Drop([](const Message&) { return true; });
  for (const Message& commit : commits) {
    cluster.node(1).Receive(commit, cluster.now());
    cluster.Collect(1);
  }
  cluster.Deliver([](const Message& m) { return m.to == 0; });
  return cluster.Result(lock).value_or(WriteResult{}).outcome;
}

TEST(Races, CommitToAMemberRestartedAfterPromisingIsNotCounted) {
  EXPECT_NE(Race4Outcome(), WriteOutcome::kDone)
      << "a member that lost its promise (and the lease state) must not make a majority";
}

TEST(Races, RestartedMemberVotingInQuarantineMakesTheMajority) {
  Broken().vote_in_quarantine = true;
  const WriteOutcome outcome = Race4Outcome();
  Broken() = {};
  EXPECT_EQ(outcome, WriteOutcome::kDone);
}

// Race 5: a release by the old owner races the lease's expiry and a new
// holder: it must not remove the new holder's lease.
TEST(Races, LateReleaseByTheOldOwnerLeavesTheNewHolderAlone) {
  ScriptedCluster cluster;
  const uint64_t old_lock = cluster.Submit(0, WriteOp::kLock, "old", 100);
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Result(old_lock)->outcome, WriteOutcome::kDone);
  // The old owner sends RELEASE, but it is delayed (never reaches anyone
  // before the lease ends) ...
  const uint64_t release = cluster.Submit(1, WriteOp::kRelease, "old");
  std::vector<Message> delayed = cluster.in_flight();
  cluster.Drop([](const Message&) { return true; });
  cluster.Advance(150);  // ...the lease expires everywhere...
  const uint64_t new_lock = cluster.Submit(2, WriteOp::kLock, "new", 1000);
  cluster.DeliverAll();  // ...and a new holder takes it.
  ASSERT_EQ(cluster.Result(new_lock)->outcome, WriteOutcome::kDone);
  // Now the old release arrives (and its round times out and retries).
  for (const Message& m : delayed) cluster.node(m.to).Receive(m, cluster.now());
  cluster.DeliverAll();
  cluster.Advance(150);
  cluster.DeliverAll();
  EXPECT_NE(cluster.Result(release).value_or(WriteResult{}).outcome, WriteOutcome::kDone);
  for (size_t i = 0; i < 3; ++i) {
    const Register* reg = cluster.node(i).table().FindHeld("k", cluster.now().mono_ms);
    ASSERT_NE(reg, nullptr) << "member " << i;
    EXPECT_EQ(reg->owner, "new");
  }
}

// Race 6: rolling empty restarts of every member, spaced shorter than a ttl:
// tokens still increase.
TEST(Races, RollingEmptyRestartsKeepTokensGrowing) {
  ScriptedCluster cluster;
  uint64_t last_token = 0;
  int owner = 0;
  const auto lock_and_release = [&](size_t via) {
    const std::string name = "o" + std::to_string(owner++);
    const uint64_t lock = cluster.Submit(via, WriteOp::kLock, name, 300);
    cluster.DeliverAll();
    const auto result = cluster.Result(lock);
    if (!result || result->outcome != WriteOutcome::kDone) return;
    EXPECT_GT(result->token, last_token);
    last_token = result->token;
    cluster.Submit(via, WriteOp::kRelease, name);
    cluster.DeliverAll();
  };
  for (int lap = 0; lap < 3; ++lap) {
    for (size_t member = 0; member < 3; ++member) {
      lock_and_release((member + 1) % 3);
      cluster.CrashAndRestart(member);
      cluster.DeliverAll();  // The restarted member learns counters from the others.
      // Spaced shorter than a ttl, but the member waits out its quarantine
      // before the next one restarts (else no majority could vote at all).
      for (int i = 0; i < 12; ++i) {
        cluster.Advance(100);
        cluster.DeliverAll();
      }
      lock_and_release(member);
    }
  }
  EXPECT_GT(last_token, 0u);
}

}  // namespace
}  // namespace lockerd::cluster
