// The races CLUSTER-SAFETY.md lists, each scripted step by step on three
// real cluster::Node members: the test decides which message is delivered,
// held back, duplicated or lost, and when time passes.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "cluster/broken.h"
#include "cluster/node.h"
#include "server/boot_clock.h"
#include "server/state_file.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'790'000'000'000;

class ScriptedCluster {
 public:
  // `broken`: rules every member breaks on purpose (cluster/broken.h).
  explicit ScriptedCluster(size_t members = 3, BrokenRules broken = {})
      : members_(members), broken_(broken) {
    for (size_t i = 0; i < members; ++i) nodes_.push_back(MakeNode(i));
  }

  static NodeOptions Options(size_t self, size_t members, BrokenRules broken = {}) {
    NodeOptions options;
    options.membership = cluster::Membership::Initial(members);
    options.self = static_cast<MemberId>(self);
    options.max_lease_ms = 1000;
    options.round_timeout_ms = 100;
    options.seed = 7 + self;
    options.broken = broken;
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
      if (!nodes_[i]) continue;  // Down.
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

  // A clean stop (SIGTERM) and a start `down_ms` later, through the same
  // save and load code the server runs (the state file's bytes, the boot
  // clock). Messages in flight to it are lost.
  void CleanRestart(size_t i, int64_t down_ms, bool rebooted = false) {
    std::erase_if(in_flight_, [i](const Message& m) { return m.to == i; });
    const std::string bytes =
        server::EncodeState(nodes_[i]->Save(now()), {now().wall_ms, {"boot", now_ms_}});
    nodes_[i].reset();
    Advance(down_ms);
    server::SaveStamp saved_at;
    std::string problem;
    StartFacts facts;
    facts.saved = server::DecodeState(bytes, &saved_at, &problem);
    ASSERT_TRUE(facts.saved.has_value()) << problem;
    facts.downtime_ms =
        server::ElapsedWithinBoot(saved_at.boot, {rebooted ? "boot2" : "boot", now_ms_});
    nodes_[i] = MakeNode(i);
    nodes_[i]->Start(facts, now());
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
  std::unique_ptr<Node> MakeNode(size_t i) {
    return std::make_unique<Node>(Options(i, members_, broken_));
  }

  size_t members_;
  BrokenRules broken_;
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
bool Race1BothHold(BrokenRules broken = {}) {
  ScriptedCluster cluster(3, broken);
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
  BrokenRules broken;
  broken.forget_promises = true;
  const bool both = Race1BothHold(broken);
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
WriteOutcome Race4Outcome(BrokenRules broken = {}) {
  ScriptedCluster cluster(3, broken);
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
  BrokenRules broken;
  broken.vote_in_quarantine = true;
  const WriteOutcome outcome = Race4Outcome(broken);
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

// A one-round-trip EXTEND sent close to the lease's end, whose commits are
// slow, while a new holder takes the key once the lease ran out. Returns
// true when both were told they hold it.
bool FastRenewalRacingANewHolderBothHold(BrokenRules broken = {}) {
  ScriptedCluster cluster(3, broken);
  const auto between = [](size_t a, size_t b) {
    return [a, b](const Message& m) { return (m.from == a && m.to == b) || (m.from == b && m.to == a); };
  };
  const uint64_t lock = cluster.Submit(2, WriteOp::kLock, "A", 100);
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Result(lock).value_or(WriteResult{}).outcome, WriteOutcome::kDone);
  cluster.Advance(80);  // 20 ms left: enough for a one-round-trip renewal.
  const uint64_t extend = cluster.Submit(2, WriteOp::kExtend, "A", 100);
  std::vector<Message> renewal = cluster.in_flight();  // Its commits, slow.
  cluster.Drop([](const Message&) { return true; });
  cluster.Advance(25);  // The lease ran out everywhere.
  const uint64_t take = cluster.Submit(1, WriteOp::kLock, "D", 500);
  cluster.Deliver(between(0, 1));
  EXPECT_EQ(cluster.Result(take).value_or(WriteResult{}).outcome, WriteOutcome::kDone);
  cluster.Drop([](const Message&) { return true; });
  for (const Message& m : renewal) {
    cluster.node(m.to).Receive(m, cluster.now());
    cluster.Collect(m.to);
  }
  cluster.DeliverAll();
  return cluster.Result(extend).value_or(WriteResult{}).outcome == WriteOutcome::kDone;
}

TEST(Races, AOneRoundTripRenewalAtTheNextStepLosesToANewHolder) {
  EXPECT_FALSE(FastRenewalRacingANewHolderBothHold());
}

TEST(Races, AOneRoundTripRenewalAtAFreshBallotOutranksANewHolder) {
  BrokenRules broken;
  broken.fast_write_fresh_ballot = true;
  const bool both = FastRenewalRacingANewHolderBothHold(broken);
  EXPECT_TRUE(both);
}

// A Learn delayed past its key's tombstone (a stalled link delivering its
// backlog): applied with a fresh ttl, it would revive a released lease
// that the members which wrote the release have forgotten since. Returns
// the token a LOCK by the first holder's owner name gets at the end, and
// sets `*second` to the token granted in between.
uint64_t LateLearnRelockToken(uint64_t* second, BrokenRules broken = {}) {
  ScriptedCluster cluster(3, broken);
  const auto without_2 = [](const Message& m) { return m.to != 2 && m.from != 2; };
  const uint64_t first = cluster.Submit(0, WriteOp::kLock, "A", 100);
  cluster.Deliver(without_2);  // Member 2 hears nothing...
  EXPECT_NE(cluster.Result(first).value_or(WriteResult{}).token, 0u);
  std::vector<Message> learn;  // ...but is sent the chosen value: slow.
  for (const Message& m : cluster.in_flight()) {
    if (m.to == 2 && std::holds_alternative<Learn>(m.body)) learn.push_back(m);
  }
  EXPECT_FALSE(learn.empty());
  cluster.Drop([](const Message&) { return true; });
  cluster.Submit(0, WriteOp::kRelease, "A");
  cluster.Deliver(without_2);
  const uint64_t take = cluster.Submit(1, WriteOp::kLock, "C", 100);
  cluster.Deliver(without_2);
  *second = cluster.Result(take).value_or(WriteResult{}).token;
  cluster.Submit(1, WriteOp::kRelease, "C");
  cluster.Deliver(without_2);
  cluster.Drop([](const Message&) { return true; });
  // Longer than a tombstone lives (S = 1214 ms here): members 0 and 1 forget
  // the key.
  for (int i = 0; i < 14; ++i) cluster.Advance(100);
  EXPECT_EQ(cluster.node(0).table().Find("k"), nullptr);
  for (const Message& m : learn) {
    cluster.node(2).Receive(m, cluster.now());
    cluster.Collect(2);
  }
  cluster.Drop([](const Message&) { return true; });
  const uint64_t relock = cluster.Submit(2, WriteOp::kLock, "A", 100);
  cluster.Deliver([](const Message& m) { return m.to != 1 && m.from != 1; });
  return cluster.Result(relock).value_or(WriteResult{}).token;
}

TEST(Races, ALearnOlderThanItsKeysTombstoneRevivesNothing) {
  uint64_t second = 0;
  const uint64_t relock = LateLearnRelockToken(&second);
  ASSERT_NE(second, 0u);
  EXPECT_GT(relock, second);
}

TEST(Races, ALearnAppliedWhateverItsAgeRevivesAReleasedLease) {
  BrokenRules broken;
  broken.apply_stale_commits = true;
  uint64_t second = 0;
  const uint64_t relock = LateLearnRelockToken(&second, broken);
  ASSERT_NE(second, 0u);
  EXPECT_NE(relock, 0u);
  EXPECT_LT(relock, second) << "expected the old token to be handed out again";
}

// Race 9 (finding 3 of issue 14): a released key whose older copy survives
// on one member, then a clean restart of another. Returns the token a LOCK
// by the first holder's owner name gets at the end, and sets `*second` to
// the token granted in between.
uint64_t Race9RelockToken(uint64_t* second, BrokenRules broken = {}) {
  ScriptedCluster cluster(3, broken);
  const auto lock = [&](size_t via, const std::string& owner) {
    const uint64_t id = cluster.Submit(via, WriteOp::kLock, owner, 1000);
    cluster.DeliverAll();
    const auto result = cluster.Result(id);
    return result && result->outcome == WriteOutcome::kDone ? result->token : 0;
  };
  const auto release = [&](size_t via, const std::string& owner) {
    cluster.Submit(via, WriteOp::kRelease, owner);
    cluster.DeliverAll();
  };
  const uint64_t first = lock(0, "A");  // On all three.
  EXPECT_NE(first, 0u);
  cluster.Advance(10);
  // Member 2 stops cleanly and misses A's release and C's lock and release.
  std::string saved;
  cluster.CleanRestart(2, /*down_ms=*/0);  // (a restart to show it round-trips)
  cluster.Drop([](const Message& m) { return m.to == 2 || m.from == 2; });
  const auto cut_2 = [](const Message& m) { return m.to != 2 && m.from != 2; };
  uint64_t id = cluster.Submit(0, WriteOp::kRelease, "A");
  cluster.Deliver(cut_2);
  id = cluster.Submit(0, WriteOp::kLock, "C", 1000);
  cluster.Deliver(cut_2);
  *second = cluster.Result(id).value_or(WriteResult{}).token;
  cluster.Submit(0, WriteOp::kRelease, "C");
  cluster.Deliver(cut_2);
  cluster.Drop([](const Message& m) { return m.to == 2 || m.from == 2; });
  // Member 0 restarts cleanly; member 1 is paused (its messages wait).
  cluster.CleanRestart(0, /*down_ms=*/20);
  const auto without_1 = [](const Message& m) { return m.to != 1 && m.from != 1; };
  id = cluster.Submit(0, WriteOp::kLock, "A", 1000);
  cluster.Deliver(without_1);
  (void)release;
  return cluster.Result(id).value_or(WriteResult{}).token;
}

TEST(Races, ReleasedKeySurvivesACleanRestart) {
  uint64_t second = 0;
  const uint64_t relock = Race9RelockToken(&second);
  ASSERT_NE(second, 0u);
  EXPECT_GT(relock, second) << "the released lease came back with its old token";
}

TEST(Races, ForgettingFreeRegistersAtACleanStopRevivesAReleasedLease) {
  BrokenRules broken;
  broken.save_held_leases_only = true;
  uint64_t second = 0;
  const uint64_t relock = Race9RelockToken(&second, broken);
  ASSERT_NE(second, 0u);
  EXPECT_NE(relock, 0u);
  EXPECT_LT(relock, second) << "expected the old token to be handed out again";
}

}  // namespace
}  // namespace lockerd::cluster
