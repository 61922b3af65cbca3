// What a member with the log may send while its turn's changes are being
// synced (Node::MaySendBeforeSync), which changes must be synced before
// anything else leaves (Node::ChangesNeedSync), and the restart rule that
// makes the early promises safe: a member restarted from its log promises
// above its round reserve (CLUSTER-SAFETY.md, "Syncs that overlap").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/limits.h"
#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;
constexpr MemberId kSelf = 1;

WriteRequest Lock(const std::string& key, const std::string& owner) {
  WriteRequest request;
  request.request_id = 1;
  request.key = key;
  request.owner = owner;
  request.ttl_ms = 5000;
  return request;
}

// Member 0's yes to this member's Prepare.
Promise YesTo(const Prepare& prepare) {
  Promise yes;
  yes.round_id = prepare.round_id;
  yes.ballot = prepare.ballot;
  yes.highest = prepare.ballot;
  return yes;
}

NodeOptions Options() {
  NodeOptions options;
  options.membership = cluster::Membership::Initial(3);
  options.self = kSelf;
  options.max_lease_ms = 10'000;
  return options;
}

class NodeSyncOrder : public ::testing::Test {
 protected:
  NodeSyncOrder() : node_(Options()) {
    StartFacts facts;
    facts.new_cluster = true;
    node_.Start(facts, now_);
    node_.TrackChanges();
  }

  // As the server's start (Server::OpenLog): the first record, synced.
  void SyncStart() {
    ASSERT_TRUE(node_.TakeChanges(now_));
    node_.NoteDurable();
  }
  std::vector<Message> Outbox() {
    std::vector<Message> out;
    node_.TakeOutbox(&out);
    return out;
  }
  // Member 0's Prepare for `key` at `round`, and this member's answer.
  Message PromiseFor(const std::string& key, uint64_t round, bool peek = false) {
    node_.Receive({0, kSelf, Prepare{7, key, Ballot{round, 0}, peek}}, now_);
    for (Message& message : Outbox()) {
      if (std::holds_alternative<Promise>(message.body)) return message;
    }
    ADD_FAILURE() << "no answer";
    return {};
  }
  uint64_t Reserve() {
    const auto state = node_.Save(now_);
    return state.round_reserve;
  }

  Node node_;
  Time now_{1000, kWallMs};
};

TEST_F(NodeSyncOrder, BeforeTheFirstSyncOnlyPreparesMayLeave) {
  node_.Submit(Lock("k", "alice"), now_);
  const std::vector<Message> prepares = Outbox();
  ASSERT_EQ(prepares.size(), 2u);
  for (const Message& message : prepares) {
    ASSERT_TRUE(std::holds_alternative<Prepare>(message.body));
    EXPECT_TRUE(node_.MaySendBeforeSync(message)) << "a Prepare carries no state";
  }
  const Message promise = PromiseFor("other", 3);
  EXPECT_EQ(std::get<Promise>(promise.body).vote, Vote::kYes);
  EXPECT_FALSE(node_.MaySendBeforeSync(promise)) << "no reserve is synced yet";
}

TEST_F(NodeSyncOrder, APromiseWithinTheSyncedReserveLeavesAndNeedsNoSync) {
  SyncStart();
  ASSERT_GT(Reserve(), 3u);
  const Message promise = PromiseFor("k", 3);
  ASSERT_EQ(std::get<Promise>(promise.body).vote, Vote::kYes);
  EXPECT_TRUE(node_.MaySendBeforeSync(promise));
  const auto changes = node_.TakeChanges(now_);
  ASSERT_TRUE(changes) << "the promise is still logged";
  EXPECT_EQ(changes->registers.size(), 1u);
  EXPECT_FALSE(node_.ChangesNeedSync()) << "a restart from the log promises above the reserve";
}

// Found by a review: a member that applied an Accept and answered a
// Prepare in one turn reported a state its crash could forget, and a
// one-key read takes a majority that agrees as chosen.
TEST_F(NodeSyncOrder, APromiseWaitsInATurnThatChangedAnAcceptedState) {
  SyncStart();
  // This member's own LOCK on "x", member 0's promise: its own accept
  // changes "x" now, unsynced.
  node_.Submit(Lock("x", "alice"), now_);
  Prepare prepare;
  for (const Message& message : Outbox()) prepare = std::get<Prepare>(message.body);
  node_.Receive({0, kSelf, YesTo(prepare)}, now_);
  (void)Outbox();
  const Message promise = PromiseFor("k", 5);
  ASSERT_EQ(std::get<Promise>(promise.body).vote, Vote::kYes);
  EXPECT_FALSE(node_.MaySendBeforeSync(promise)) << "an accepted state changed this turn";
  (void)node_.TakeChanges(now_);
  EXPECT_FALSE(node_.MaySendBeforeSync(promise)) << "taken, not yet synced";
  node_.NoteDurable();
  EXPECT_TRUE(node_.MaySendBeforeSync(PromiseFor("k", 6))) << "synced";
}

TEST_F(NodeSyncOrder, APromiseBeyondTheReserveWaitsAndMovesTheReserve) {
  SyncStart();
  const uint64_t reserve = Reserve();
  const Message promise = PromiseFor("k", reserve + 5);
  ASSERT_EQ(std::get<Promise>(promise.body).vote, Vote::kYes);
  EXPECT_FALSE(node_.MaySendBeforeSync(promise));
  const auto changes = node_.TakeChanges(now_);
  ASSERT_TRUE(changes);
  EXPECT_GT(changes->round_reserve, reserve + 5);
  EXPECT_TRUE(node_.ChangesNeedSync()) << "the new reserve must be on disk first";
  node_.NoteDurable();
  EXPECT_FALSE(node_.ChangesNeedSync());
  EXPECT_TRUE(node_.MaySendBeforeSync(PromiseFor("k", reserve + 6)));
}

TEST_F(NodeSyncOrder, PeeksAnswersAcceptedLearnsAndRefusalsWaitForTheSync) {
  SyncStart();
  const Message peek = PromiseFor("k", 3, /*peek=*/true);
  EXPECT_FALSE(node_.MaySendBeforeSync(peek)) << "a peek's answer is a read";
  Message accepted{kSelf, 0, Accepted{7, Ballot{3, 0}, Vote::kYes, Ballot{3, 0}, 0}};
  EXPECT_FALSE(node_.MaySendBeforeSync(accepted)) << "a vote that chooses a value";
  Message learn{kSelf, 0, Learn{"k", Ballot{3, kSelf}, true, "alice", 5, 5000, {}}};
  EXPECT_FALSE(node_.MaySendBeforeSync(learn));
  Message probe_reply{kSelf, 0, ProbeReply{}};
  EXPECT_FALSE(node_.MaySendBeforeSync(probe_reply));
}

TEST_F(NodeSyncOrder, OwnAcceptsWithinTheReserveLeaveAndTheOwnVoteNeedsTheSync) {
  SyncStart();
  node_.Submit(Lock("k", "alice"), now_);
  Prepare prepare;
  for (const Message& message : Outbox()) prepare = std::get<Prepare>(message.body);
  (void)node_.TakeChanges(now_);
  EXPECT_FALSE(node_.ChangesNeedSync()) << "its own promise and ballot are within the reserve";
  // Member 0 promises: with this member's own, a majority; the accepts go.
  node_.Receive({0, kSelf, YesTo(prepare)}, now_);
  size_t accepts = 0;
  for (const Message& message : Outbox()) {
    if (std::holds_alternative<Accept>(message.body)) {
      ++accepts;
      EXPECT_TRUE(node_.MaySendBeforeSync(message));
    } else {
      EXPECT_TRUE(std::holds_alternative<Probe>(message.body));  // Peers' clocks are not bounded yet.
      EXPECT_FALSE(node_.MaySendBeforeSync(message));
    }
  }
  EXPECT_EQ(accepts, 2u);
  ASSERT_TRUE(node_.TakeChanges(now_));
  EXPECT_TRUE(node_.ChangesNeedSync()) << "its own accept is a vote: on disk before anything answers";
}

// The split keeps every message whole and in its order: the server sends
// the first group, syncs, then sends the rest (a turn with nothing to send
// early once left the rest as moved-from messages, keys and owners empty).
TEST_F(NodeSyncOrder, TheSplitKeepsBothGroupsWholeAndInOrder) {
  SyncStart();
  const uint64_t reserve = Reserve();
  std::vector<Message> outbox = {
      {kSelf, 0, Learn{"learned", Ballot{3, kSelf}, true, "alice", 5, 5000, {}}},
      {kSelf, 2, Accept{9, "early", Ballot{reserve, kSelf}, true, "bob", 6, 5000, {}}},
      {kSelf, 0, Accept{10, "late", Ballot{reserve + 1, kSelf}, true, "carol", 7, 5000, {}}},
  };
  std::vector<Message> early;
  node_.TakeSendableBeforeSync(&outbox, &early);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(std::get<Accept>(early[0].body).owner, "bob");
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_EQ(std::get<Learn>(outbox[0].body).key, "learned");
  EXPECT_EQ(std::get<Learn>(outbox[0].body).owner, "alice");
  EXPECT_EQ(std::get<Accept>(outbox[1].body).key, "late");
  // Nothing may leave early: everything stays, whole.
  std::vector<Message> none;
  node_.TakeSendableBeforeSync(&outbox, &none);
  EXPECT_TRUE(none.empty());
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_EQ(std::get<Learn>(outbox[0].body).key, "learned");
  EXPECT_EQ(std::get<Accept>(outbox[1].body).owner, "carol");
}

TEST_F(NodeSyncOrder, AcceptsAreJudgedByTheirBallot) {
  SyncStart();
  const uint64_t reserve = Reserve();
  Accept own{9, "k", Ballot{reserve, kSelf}, true, "alice", 5, 5000, {}};
  EXPECT_TRUE(node_.MaySendBeforeSync({kSelf, 0, own}));
  own.ballot = Ballot{reserve + 1, kSelf};
  EXPECT_FALSE(node_.MaySendBeforeSync({kSelf, 0, own})) << "a ballot a restart could use again";
  own.ballot = Ballot{3, 0};
  EXPECT_FALSE(node_.MaySendBeforeSync({kSelf, 0, own})) << "not this member's ballot";
  own.ballot = Ballot{3, kSelf};
  EXPECT_FALSE(node_.MaySendBeforeSync({0, kSelf, own})) << "not from this member";
}

TEST(NodeSyncOrderRestart, ARestartFromTheLogPromisesAboveTheReserve) {
  constexpr uint64_t kReserve = 3 * kRoundReserveStep;
  NodeState saved;
  saved.round_reserve = kReserve;
  saved.ballot_floor = Ballot{40, 0};
  SavedRegister reg;
  reg.key = "k";
  reg.promised = Ballot{40, 0};
  reg.accepted = Ballot{40, 0};
  reg.held = true;
  reg.owner = "alice";
  reg.token = 5;
  reg.remaining_ms = 5000;
  saved.registers.push_back(reg);
  saved.token_counter = 5;
  Node node(Options());
  StartFacts facts;
  facts.saved = saved;
  facts.downtime_ms = 0;
  const Time now{1000, kWallMs};
  node.Start(facts, now);
  const auto answer = [&](const std::string& key, Ballot ballot) {
    node.Receive({0, kSelf, Prepare{7, key, ballot, false}}, now);
    std::vector<Message> out;
    node.TakeOutbox(&out);
    for (const Message& message : out) {
      if (const auto* promise = std::get_if<Promise>(&message.body)) return promise->vote;
    }
    return Vote::kQuarantined;
  };
  EXPECT_EQ(answer("k", Ballot{kReserve, 0}), Vote::kNo) << "a promise it may have forgotten";
  EXPECT_EQ(answer("new", Ballot{kReserve, 2}), Vote::kNo) << "a key it may have forgotten";
  EXPECT_EQ(answer("k", Ballot{kReserve + 2, 0}), Vote::kYes);
  node.Submit(Lock("mine", "bob"), now);
  std::vector<Message> out;
  node.TakeOutbox(&out);
  ASSERT_FALSE(out.empty());
  EXPECT_GT(std::get<Prepare>(out[0].body).ballot.round, kReserve) << "its own ballots too";
  EXPECT_EQ(node.table().Find("k")->token, 5u) << "the lease itself is kept";
}

}  // namespace
}  // namespace lockerd::cluster
