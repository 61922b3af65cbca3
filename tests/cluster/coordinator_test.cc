// The coordinator stepped by hand with three members: messages in, expected
// messages and results out (CLUSTER-SAFETY.md steps 1, 2 and 4).
#include "cluster/coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "cluster/fencing.h"
#include "cluster/lease_math.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'700'000'000'000;

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest() : coordinator_(Options()) {}

  static CoordinatorOptions Options() {
    CoordinatorOptions options;
    options.membership = cluster::Membership::Initial(3);
    options.self = 0;
    options.round_timeout_ms = 500;
    return options;
  }

  Time At(int64_t mono_ms) const { return {mono_ms, kWallMs}; }

  void Submit(WriteOp op, const char* owner = "me", int64_t ttl_ms = 1000, int64_t now_ms = 0) {
    WriteRequest request;
    request.request_id = 7;
    request.op = op;
    request.key = "k";
    request.owner = owner;
    request.ttl_ms = ttl_ms;
    outbox_.clear();
    coordinator_.Submit(request, At(now_ms), &outbox_);
  }

  // The round id and ballot of the prepares just sent.
  const Prepare& SentPrepare() const { return std::get<Prepare>(outbox_.at(0).body); }
  const Accept& SentAccept() const { return std::get<Accept>(outbox_.at(0).body); }

  void Promise(MemberId from, Vote vote, LeaseView lease = {}, Ballot accepted = {},
               uint64_t counter = 0, int64_t now_ms = 0, Ballot highest = {}) {
    cluster::Promise promise;
    promise.round_id = round_id_;
    promise.ballot = ballot_;
    promise.vote = vote;
    promise.lease = std::move(lease);
    promise.accepted = accepted;
    promise.token_counter = counter;
    promise.highest = highest;
    outbox_.clear();
    coordinator_.OnPromise(from, promise, At(now_ms), &outbox_);
  }

  void Accepted(MemberId from, Vote vote, int64_t now_ms = 0) {
    cluster::Accepted accepted;
    accepted.round_id = round_id_;
    accepted.ballot = ballot_;
    accepted.vote = vote;
    outbox_.clear();
    coordinator_.OnAccepted(from, accepted, At(now_ms), &outbox_);
  }

  std::vector<WriteResult> Results() {
    std::vector<WriteResult> results;
    coordinator_.TakeResults(&results);
    return results;
  }

  // Replies below answer this round, at this ballot.
  void Expect(const Prepare& prepare) {
    round_id_ = prepare.round_id;
    ballot_ = prepare.ballot;
  }

  Coordinator coordinator_;
  std::vector<Message> outbox_;
  uint64_t round_id_ = 0;
  Ballot ballot_;
};

TEST_F(CoordinatorTest, LockNeedsAMajorityOfPromisesThenOfAccepts) {
  Submit(WriteOp::kLock);
  ASSERT_EQ(outbox_.size(), 3u) << "a prepare to every member";
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {}, {}, 10);
  EXPECT_TRUE(outbox_.empty()) << "one promise of three is not a majority";
  Promise(1, Vote::kYes, {}, {}, 12);
  ASSERT_EQ(outbox_.size(), 3u) << "accepts go to every member";
  const Accept accept = SentAccept();
  EXPECT_TRUE(accept.held);
  EXPECT_EQ(accept.owner, "me");
  EXPECT_EQ(accept.token, NextToken(12, kWallMs)) << "largest counter seen + 1, with the floor";
  Accepted(2, Vote::kYes);
  EXPECT_TRUE(Results().empty());
  Accepted(2, Vote::kYes);
  EXPECT_TRUE(Results().empty()) << "a duplicate counts once";
  Accepted(0, Vote::kYes);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].request_id, 7u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(results[0].token, accept.token);
  // Member 1 did not accept (yet): it is told the chosen value.
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_[0].to, 1u);
  EXPECT_EQ(std::get<Learn>(outbox_[0].body).token, accept.token);
}

// A paused coordinator reads its promises after the attempt's deadline: it
// ends the attempt as its timer would, and commits nothing (commits are
// sent within a round timeout of the prepares: CLUSTER-SAFETY.md, "How
// long an older state can live").
TEST_F(CoordinatorTest, PromisesReadAfterTheDeadlineCommitNothing) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {}, {}, 10, /*now_ms=*/0);
  Promise(1, Vote::kYes, {}, {}, 10, /*now_ms=*/500);
  EXPECT_TRUE(std::none_of(outbox_.begin(), outbox_.end(), [](const Message& m) {
    return std::holds_alternative<Accept>(m.body);
  }));
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
}

TEST_F(CoordinatorTest, HighestAcceptedBallotDecides) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  // An older state says free; a newer one says "other" holds it.
  Promise(0, Vote::kYes, {}, Ballot{3, 0});
  Promise(1, Vote::kYes, {true, "other", 5, 800}, Ballot{4, 1});
  EXPECT_TRUE(outbox_.empty()) << "held by another owner: nothing to commit";
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
}

TEST_F(CoordinatorTest, SameOwnerRelockKeepsItsToken) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "me", 99, 200}, Ballot{1, 0}, 99);
  Promise(1, Vote::kYes, {true, "me", 99, 150}, Ballot{1, 0}, 99);
  EXPECT_EQ(SentAccept().token, 99u);
  EXPECT_EQ(SentAccept().ttl_ms, 1000);
}

TEST_F(CoordinatorTest, ReleaseOnlyByTheHolder) {
  Submit(WriteOp::kRelease, "intruder");
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "me", 5, 500}, Ballot{1, 0});
  Promise(1, Vote::kYes, {true, "me", 5, 500}, Ballot{1, 0});
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
}

// A RELEASE's accepts are refused by members 0 and 1, who promised a rival
// LOCK in between; member 2 may have accepted the release. The rival round
// takes the highest accepted state, the release's "free", and grants the
// key. The release's retry finds the key free or held by the next holder:
// its own first attempt ended the lease. It writes what it found again at
// its own ballot, so no later round can choose the old lease, and answers
// released.
class ReleaseRetryTest : public CoordinatorTest {
 protected:
  // Runs the RELEASE's first attempt (the holder had `remaining_ms` left)
  // and its retry, whose promises report `found` at ballot {50, 2}. Returns
  // the retry's results so far; its accepts, if any, are in outbox_.
  std::vector<WriteResult> ReleaseThenRetry(LeaseView found, int64_t remaining_ms) {
    Submit(WriteOp::kRelease, "me");
    Expect(SentPrepare());
    Promise(0, Vote::kYes, {true, "me", 5, remaining_ms}, Ballot{1, 0}, 5);
    Promise(1, Vote::kYes, {true, "me", 5, remaining_ms}, Ballot{1, 0}, 5);
    EXPECT_FALSE(SentAccept().held) << "the release went out";
    Accepted(0, Vote::kNo, 1);
    Accepted(1, Vote::kNo, 1);
    const std::optional<int64_t> retry_at = coordinator_.NextWakeMs();
    EXPECT_TRUE(retry_at.has_value());
    int64_t started_ms = 1;  // At once (the home member), or after a backoff:
    if (outbox_.empty() && retry_at) {
      coordinator_.Tick(At(*retry_at), &outbox_);
      started_ms = *retry_at;
    }
    Expect(SentPrepare());
    now_ms_ = started_ms + 1;  // The retry's promises, well within its timeout.
    Promise(0, Vote::kYes, found, Ballot{50, 2}, 6, now_ms_);
    Promise(1, Vote::kYes, found, Ballot{50, 2}, 6, now_ms_);
    return Results();
  }
  std::vector<WriteResult> AcceptedByAMajority() {
    Accepted(0, Vote::kYes, now_ms_);
    Accepted(1, Vote::kYes, now_ms_);
    return Results();
  }
  int64_t now_ms_ = 0;
};

TEST_F(ReleaseRetryTest, KeyTakenByTheNextHolderIsWrittenAgainAndTheReleaseAnswered) {
  EXPECT_TRUE(ReleaseThenRetry({true, "next", 6, 900}, 5000).empty()) << "not before a write";
  const Accept accept = SentAccept();
  EXPECT_TRUE(accept.held);
  EXPECT_EQ(accept.owner, "next");
  EXPECT_EQ(accept.token, 6u) << "the next holder's lease, unchanged";
  EXPECT_GE(accept.ttl_ms, 900);
  const auto results = AcceptedByAMajority();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(coordinator_.stats().releases_carried_on, 1u);
}

TEST_F(ReleaseRetryTest, KeyFoundFreeIsFreedAgainAndTheReleaseAnswered) {
  EXPECT_TRUE(ReleaseThenRetry({}, 5000).empty());
  EXPECT_FALSE(SentAccept().held);
  const auto results = AcceptedByAMajority();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
}

TEST_F(ReleaseRetryTest, ALeaseThatMayHaveRunOutIsNotClaimedAsReleased) {
  // 2 ms were left: by the retry the lease may have run out on its own, and
  // the holder must hear that it no longer held it.
  const auto results = ReleaseThenRetry({true, "next", 6, 900}, 2);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
  EXPECT_EQ(coordinator_.stats().releases_carried_on, 0u);
}

TEST_F(ReleaseRetryTest, AnIntruderRetryingIsStillRefused) {
  // A RELEASE by someone who never held the key sends no accepts, so a
  // retry of it (after a pre-emption) claims nothing.
  Submit(WriteOp::kRelease, "intruder");
  Expect(SentPrepare());
  Promise(0, Vote::kNo, {}, {}, 0, 0, Ballot{40, 2});
  Promise(1, Vote::kNo, {}, {}, 0, 0, Ballot{40, 2});
  const std::optional<int64_t> retry_at = coordinator_.NextWakeMs();
  ASSERT_TRUE(retry_at.has_value());
  int64_t started_ms = 0;  // At once, or after a backoff.
  if (outbox_.empty()) {
    coordinator_.Tick(At(*retry_at), &outbox_);
    started_ms = *retry_at;
  }
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "me", 5, 900}, Ballot{41, 2}, 5, started_ms + 1);
  Promise(1, Vote::kYes, {true, "me", 5, 900}, Ballot{41, 2}, 5, started_ms + 1);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
}

TEST_F(CoordinatorTest, UpdateKeepsTokenAndWhatIsLeftOfTheLease) {
  WriteRequest request;
  request.request_id = 7;
  request.op = WriteOp::kUpdate;
  request.key = "k";
  request.owner = "me";
  request.new_owner = "you";
  coordinator_.Submit(request, At(100), &outbox_);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "me", 5, 500}, Ballot{1, 0}, 5, 110);
  Promise(1, Vote::kYes, {true, "me", 5, 480}, Ballot{1, 0}, 5, 120);
  const Accept& accept = SentAccept();
  EXPECT_EQ(accept.owner, "you");
  EXPECT_EQ(accept.token, 5u);
  EXPECT_EQ(accept.ttl_ms, 506) << "what was left, stretched by the drift allowance + 1 ms";
}

TEST_F(CoordinatorTest, NoMajorityInTimeIsNoQuorum) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes);
  EXPECT_EQ(coordinator_.NextWakeMs(), 500);
  coordinator_.Tick(At(499), &outbox_);
  EXPECT_TRUE(Results().empty());
  coordinator_.Tick(At(500), &outbox_);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(results[0].detail, "1 of 3 members answered, 1 agreed; a majority is 2");
  EXPECT_EQ(coordinator_.rounds_in_flight(), 0u);
}

TEST_F(CoordinatorTest, PreemptedRoundRetriesAboveTheBallotThatBeatIt) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kNo, {}, {}, 0, 0, Ballot{40, 2});
  Promise(1, Vote::kNo, {}, {}, 0, 0, Ballot{40, 2});
  // A majority said no: the round backs off, then retries above ballot 40.
  std::optional<int64_t> retry_at = coordinator_.NextWakeMs();
  ASSERT_TRUE(retry_at.has_value());
  if (outbox_.empty()) coordinator_.Tick(At(*retry_at), &outbox_);
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_GT(SentPrepare().ballot, (Ballot{40, 2}));
  EXPECT_EQ(coordinator_.stats().rounds_retried, 1u);
}

TEST_F(CoordinatorTest, OneRefusalAndAMemberDownRetriesAtTheDeadline) {
  // Three members, member 2 down: member 1 promised a higher ballot (a duel,
  // or its floors rose), so only a retry above it can win.
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes);
  Promise(1, Vote::kNo, {}, {}, 0, 0, Ballot{40, 1});
  EXPECT_TRUE(outbox_.empty()) << "member 2 may yet say yes";
  coordinator_.Tick(At(500), &outbox_);
  EXPECT_TRUE(Results().empty()) << "not NOQUORUM";
  ASSERT_EQ(outbox_.size(), 3u);
  Expect(SentPrepare());
  EXPECT_GT(ballot_, (Ballot{40, 1}));
  if (SentPrepare().peek) {
    // A retried LOCK reads first; a free key runs the full round.
    Promise(0, Vote::kYes, {}, {}, 0, 500);
    Promise(1, Vote::kYes, {}, {}, 0, 500);
    ASSERT_EQ(outbox_.size(), 3u);
    Expect(SentPrepare());
    ASSERT_FALSE(SentPrepare().peek);
  }
  Promise(0, Vote::kYes, {}, {}, 0, 500);
  Promise(1, Vote::kYes, {}, {}, 0, 500);
  ASSERT_EQ(outbox_.size(), 3u);
  Accepted(0, Vote::kYes, 500);
  Accepted(1, Vote::kYes, 500);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(coordinator_.stats().rounds_timed_out, 0u);
}

TEST_F(CoordinatorTest, LateMajorityOfAcceptsIsNotASuccess) {
  // Race 2: the round took longer than the lease is worth.
  Submit(WriteOp::kLock, "me", 100, 0);
  Expect(SentPrepare());
  const Ballot grant_ballot = SentPrepare().ballot;
  Promise(0, Vote::kYes, {}, {}, 0, 10);
  Promise(1, Vote::kYes, {}, {}, 0, 20);
  const uint64_t token = SentAccept().token;
  Accepted(0, Vote::kYes, 95);
  Accepted(1, Vote::kYes, 99);  // V = 100 * 0.99 - 99 = -0.01
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(coordinator_.stats().grants_too_late, 1u);
  // And it rolls the grant back with a release of that token.
  ASSERT_EQ(outbox_.size(), 3u);
  Expect(SentPrepare());
  // The members report the failed grant itself (at its ballot): it is freed.
  Promise(0, Vote::kYes, {true, "me", token, 1}, grant_ballot);
  Promise(1, Vote::kYes, {true, "me", token, 1}, grant_ballot);
  EXPECT_FALSE(SentAccept().held);
}

TEST_F(CoordinatorTest, RollbackLeavesALaterWriteAlone) {
  // A grant failed; by the time its rollback reads the key, a later round
  // (here: the same owner retrying, so the same token) holds it at a higher
  // ballot. Matching on owner or token would free the retry's lease.
  Submit(WriteOp::kLock, "me", 100, 0);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {}, {}, 0, 10);
  Promise(1, Vote::kYes, {}, {}, 0, 20);
  const uint64_t token = SentAccept().token;
  outbox_.clear();
  coordinator_.Tick(At(600), &outbox_);  // Times out in the accept phase.
  ASSERT_EQ(Results().at(0).outcome, WriteOutcome::kNoQuorum);
  ASSERT_EQ(outbox_.size(), 3u) << "the rollback starts";
  Expect(SentPrepare());
  const Ballot later = {SentPrepare().ballot.round - 1, 2};  // Another member's retry.
  Promise(0, Vote::kYes, {true, "me", token, 90}, later, 0, 610);
  Promise(1, Vote::kYes, {true, "me", token, 90}, later, 0, 610);
  EXPECT_TRUE(outbox_.empty()) << "nothing to undo";
  EXPECT_EQ(coordinator_.rounds_in_flight(), 0u);
}

TEST_F(CoordinatorTest, QuarantinedMajorityAnswersTryAgain) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  cluster::Promise promise;
  promise.round_id = round_id_;
  promise.ballot = ballot_;
  promise.vote = Vote::kQuarantined;
  promise.quarantine_left_ms = 1234;
  coordinator_.OnPromise(1, promise, At(0), &outbox_);
  coordinator_.OnPromise(2, promise, At(0), &outbox_);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kTryAgain);
  EXPECT_NE(results[0].detail.find("1234 ms"), std::string::npos) << results[0].detail;
}

TEST_F(CoordinatorTest, RepliesFromUnknownRoundsAreCountedAndDropped) {
  round_id_ = 999;
  Promise(0, Vote::kYes);
  Accepted(0, Vote::kYes);
  EXPECT_EQ(coordinator_.stats().stale_replies, 2u);
  EXPECT_TRUE(Results().empty());
}

TEST_F(CoordinatorTest, ReplyWithTheRightRoundButAnotherBallotIsDropped) {
  // A late reply to a round of an earlier run of this member can carry a
  // round id in use again: the echoed ballot tells them apart.
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  ballot_.round += 1000;
  Promise(0, Vote::kYes);
  Promise(1, Vote::kYes);
  EXPECT_TRUE(outbox_.empty());
  EXPECT_EQ(coordinator_.stats().stale_replies, 2u);
}


TEST_F(CoordinatorTest, WritesToOneKeyWaitForThisMembersRoundOnIt) {
  Submit(WriteOp::kLock, "first");
  ASSERT_EQ(outbox_.size(), 3u);
  Expect(SentPrepare());
  Submit(WriteOp::kLock, "second");
  EXPECT_TRUE(outbox_.empty()) << "no second round to pre-empt the first";
  EXPECT_EQ(coordinator_.writes_queued(), 1u);
  Promise(0, Vote::kYes);
  Promise(1, Vote::kYes);
  Accepted(0, Vote::kYes);
  Accepted(1, Vote::kYes);
  // The first round ended: the second starts at once, with a higher ballot.
  ASSERT_EQ(Results().size(), 1u);
  const auto prepare = std::find_if(outbox_.begin(), outbox_.end(), [](const Message& m) {
    return std::holds_alternative<Prepare>(m.body);
  });
  ASSERT_NE(prepare, outbox_.end());
  EXPECT_GT(std::get<Prepare>(prepare->body).ballot, ballot_);
  EXPECT_EQ(coordinator_.writes_queued(), 0u);
}

TEST_F(CoordinatorTest, AQueuedWriteThatWaitedLongerThanARoundIsAnswered) {
  Submit(WriteOp::kLock, "first", 1000, 0);
  Submit(WriteOp::kLock, "second", 1000, 0);
  outbox_.clear();
  coordinator_.Tick(At(600), &outbox_);  // The first round times out...
  const auto results = Results();
  ASSERT_EQ(results.size(), 2u) << "...and the write behind it is not sent on another wait";
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(results[1].outcome, WriteOutcome::kNoQuorum);
  EXPECT_NE(results[1].detail.find("behind other writes"), std::string::npos) << results[1].detail;
}

class PeekTest : public CoordinatorTest {
 protected:
  PeekTest() {
    coordinator_.SetRefusalHint([](const WriteRequest&, Time) { return true; });
  }
};

// Many clients try one held key through this member: their LOCKs queue
// behind the round in flight. When a round's reads show the key held by
// another owner, every LOCK queued before those reads went out is refused
// with it, so the queue drains in one round trip instead of one per LOCK
// (and the holder's RELEASE does not wait behind them all).
TEST_F(PeekTest, LocksQueuedBeforeARefusingReadAreRefusedWithIt) {
  const auto queue = [this](const char* owner, uint64_t request_id) {
    WriteRequest request;
    request.request_id = request_id;
    request.op = WriteOp::kLock;
    request.key = "k";
    request.owner = owner;
    request.ttl_ms = 1000;
    std::vector<Message> none;
    coordinator_.Submit(request, At(0), &none);
    EXPECT_TRUE(none.empty()) << owner << " waits behind the round in flight";
  };
  Submit(WriteOp::kLock, "a");  // Request 7.
  Expect(SentPrepare());
  queue("b", 8);
  queue("holder", 9);  // The holder renewing: it must run.
  queue("c", 10);
  Promise(0, Vote::kYes, {true, "holder", 5, 800}, Ballot{4, 1});
  Promise(2, Vote::kYes, {true, "holder", 5, 800}, Ballot{4, 1});
  // a is refused; b starts. b, the holder's LOCK and c all arrived after
  // a's reads went out (those reads may predate them), so they wait.
  auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].request_id, 7u);
  EXPECT_EQ(coordinator_.writes_queued(), 2u);
  Expect(SentPrepare());  // b's reads.
  queue("d", 11);          // After b's reads went out.
  Promise(0, Vote::kYes, {true, "holder", 5, 700}, Ballot{4, 1});
  Promise(2, Vote::kYes, {true, "holder", 5, 700}, Ballot{4, 1});
  results = Results();
  std::vector<uint64_t> refused;
  for (const WriteResult& result : results) {
    EXPECT_EQ(result.outcome, WriteOutcome::kRefused);
    EXPECT_EQ(result.token, 5u);
    refused.push_back(result.request_id);
  }
  std::sort(refused.begin(), refused.end());
  EXPECT_EQ(refused, (std::vector<uint64_t>{8, 10})) << "b, and c, which arrived before b's reads went out";
  EXPECT_EQ(coordinator_.stats().queued_locks_refused, 1u);
  // The holder's LOCK runs next; d waits for reads sent after it arrived.
  EXPECT_EQ(coordinator_.writes_queued(), 1u);
}

TEST_F(PeekTest, ALockLikelyRefusedReadsAMajorityWithoutAPromise) {
  Submit(WriteOp::kLock);
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_TRUE(SentPrepare().peek);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "other", 5, 800}, Ballot{4, 1});
  EXPECT_TRUE(Results().empty());
  Promise(2, Vote::kYes, {true, "other", 5, 300}, Ballot{4, 1});
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
  EXPECT_EQ(results[0].token, 5u);
  EXPECT_EQ(results[0].holder_remaining_ms, 300) << "the shortest copy";
  EXPECT_TRUE(outbox_.empty()) << "no round: nothing pre-empted";
  EXPECT_EQ(coordinator_.stats().peek_refusals, 1u);
}

TEST_F(PeekTest, DisagreeingPeeksRunTheFullRound) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "other", 5, 800}, Ballot{4, 1});
  // A later ballot on member 1 (a release, say) makes the peek undecided.
  Promise(1, Vote::kYes, {}, Ballot{6, 2});
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_FALSE(SentPrepare().peek) << "a real prepare, at a higher ballot";
  EXPECT_GT(SentPrepare().ballot, ballot_);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {}, Ballot{6, 2});
  Promise(1, Vote::kYes, {}, Ballot{6, 2});
  EXPECT_TRUE(SentAccept().held) << "the key was free: granted";
}

TEST_F(PeekTest, AgreeingPeeksOfAFreeKeyRunTheFullRound) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {}, Ballot{6, 2});
  Promise(1, Vote::kYes, {}, Ballot{6, 2});
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_FALSE(SentPrepare().peek);
  EXPECT_TRUE(Results().empty()) << "never refused from a peek of a free key";
}

TEST_F(PeekTest, PeeksOfTheOwnersOwnLeaseRunTheFullRound) {
  Submit(WriteOp::kLock, "me");
  Expect(SentPrepare());
  Promise(0, Vote::kYes, {true, "me", 5, 800}, Ballot{4, 1});
  Promise(1, Vote::kYes, {true, "me", 5, 800}, Ballot{4, 1});
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_FALSE(SentPrepare().peek) << "a re-lock by the holder renews: a write";
}

TEST_F(PeekTest, QuarantinedPeersMakeThePeekRunTheFullRound) {
  Submit(WriteOp::kLock);
  Expect(SentPrepare());
  Promise(1, Vote::kQuarantined);
  Promise(2, Vote::kQuarantined);
  ASSERT_EQ(outbox_.size(), 3u);
  EXPECT_FALSE(SentPrepare().peek) << "the round reports the quarantine";
}

// One-round-trip writes: the coordinator's member shows, in its own
// register, what this coordinator wrote last.
class FastWriteTest : public CoordinatorTest {
 protected:
  FastWriteTest() {
    coordinator_.SetLocalView([this](const std::string&, Time, LocalRegister* out) {
      if (!has_local_) return false;
      *out = local_;
      return true;
    });
    coordinator_.SetLocalPromise([this](const std::string&, Ballot ballot, Time) {
      local_.promised = std::max(local_.promised, ballot);
    });
  }

  // The write's commits went to the others only; once a majority less one
  // of them accepted, this member's own register is sent its commit.
  void AcceptedByTheOthers(std::vector<MemberId> others) {
    for (const MemberId member : others) {
      Accepted(member, Vote::kYes);
      own_accept_ = std::find_if(outbox_.begin(), outbox_.end(), [](const Message& m) {
        return m.to == 0 && std::holds_alternative<cluster::Accept>(m.body);
      }) != outbox_.end();
      if (own_accept_) break;
    }
  }

  // A LOCK by "me" through a full round; the member's own register then
  // holds it at the round's ballot, as after a real round.
  Ballot LockThroughARound(int64_t ttl_ms = 10'000) {
    Submit(WriteOp::kLock, "me", ttl_ms);
    Expect(SentPrepare());
    Promise(0, Vote::kYes, {}, {}, 10);
    Promise(1, Vote::kYes, {}, {}, 10);
    const Accept accept = SentAccept();
    Accepted(0, Vote::kYes);
    Accepted(1, Vote::kYes);
    EXPECT_EQ(Results().at(0).outcome, WriteOutcome::kDone);
    has_local_ = true;
    local_ = {accept.ballot, accept.ballot, {true, "me", accept.token, ttl_ms}, 0};
    return accept.ballot;
  }

  bool SentPrepares() const {
    return !outbox_.empty() && std::holds_alternative<cluster::Prepare>(outbox_[0].body);
  }

  bool has_local_ = false;
  LocalRegister local_;
  bool own_accept_ = false;
};

TEST_F(FastWriteTest, TheHoldersReleaseTakesOneRoundTripAtTheNextStep) {
  const Ballot lock_ballot = LockThroughARound();
  Submit(WriteOp::kRelease);
  ASSERT_EQ(outbox_.size(), 2u) << "accepts to the other members, no prepares";
  EXPECT_TRUE(std::none_of(outbox_.begin(), outbox_.end(), [](const Message& m) { return m.to == 0; }))
      << "its own register takes the write only once a majority less one of the others has";
  const Accept accept = SentAccept();
  EXPECT_EQ(accept.ballot, lock_ballot.NextStep()) << "the ballot right after the lock's";
  EXPECT_EQ(local_.promised, accept.ballot) << "its register promised the step: never used twice";
  EXPECT_FALSE(accept.held);
  round_id_ = accept.round_id;
  ballot_ = accept.ballot;
  AcceptedByTheOthers({2});
  EXPECT_TRUE(own_accept_);
  EXPECT_TRUE(Results().empty());
  Accepted(0, Vote::kYes);
  const auto results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(coordinator_.stats().fast_rounds, 1u);
}

TEST_F(FastWriteTest, ExtendsChainStepByStepAndKeepTheToken) {
  const Ballot lock_ballot = LockThroughARound();
  const uint64_t token = local_.lease.token;
  Submit(WriteOp::kExtend, "me", 20'000);
  const Accept first = SentAccept();
  EXPECT_EQ(first.ballot, lock_ballot.NextStep());
  EXPECT_TRUE(first.held);
  EXPECT_EQ(first.token, token);
  EXPECT_EQ(first.ttl_ms, 20'000);
  round_id_ = first.round_id;
  ballot_ = first.ballot;
  AcceptedByTheOthers({1});
  Accepted(0, Vote::kYes);
  EXPECT_EQ(Results().at(0).token, token);
  local_ = {first.ballot, first.ballot, {true, "me", token, 20'000}, 0};
  Submit(WriteOp::kExtend, "me", 20'000);
  EXPECT_EQ(SentAccept().ballot, lock_ballot.NextStep().NextStep());
}

TEST_F(FastWriteTest, AWriteThatFailedIsNotTriedAgainFromTheSameBase) {
  LockThroughARound();
  Submit(WriteOp::kExtend, "me", 20'000);
  ASSERT_FALSE(SentPrepares());
  // Nobody answers: the round times out. Its step may have reached some
  // members; the next write must not send another value at that step.
  coordinator_.Tick(At(600), &outbox_);
  EXPECT_EQ(Results().at(0).outcome, WriteOutcome::kNoQuorum);
  Submit(WriteOp::kExtend, "me", 20'000, 600);
  EXPECT_TRUE(SentPrepares()) << "the register promised the failed step: a full round";
}

TEST_F(FastWriteTest, ALeaseReachesNoFurtherThanMaxLeaseFromItsBase) {
  // max-lease-ms 60000, L 500: 30 s after the base was applied, a renewal
  // of up to 29.5 s goes in one round trip; a longer one runs the full
  // round (on a member that missed a later release, a renewal must not
  // prolong a copy past where its base could have lasted).
  LockThroughARound(60'000);
  local_.lease.remaining_ms = 20'000;  // (Less than the renewal: no carry-over.)
  Submit(WriteOp::kExtend, "me", 29'500, /*now_ms=*/30'000);
  EXPECT_FALSE(SentPrepares());
  coordinator_.Tick(At(31'000), &outbox_);
  Results();
  local_.promised = local_.accepted;  // As if that write had settled.
  Submit(WriteOp::kExtend, "me", 29'501, /*now_ms=*/30'000);
  EXPECT_TRUE(SentPrepares());
}

TEST_F(FastWriteTest, RefusedByAMajorityItRunsAFullRoundAtOnce) {
  LockThroughARound();
  Submit(WriteOp::kRelease);
  const Accept accept = SentAccept();
  round_id_ = accept.round_id;
  ballot_ = accept.ballot;
  // Two members promised a rival's higher ballot since.
  cluster::Accepted no;
  no.round_id = accept.round_id;
  no.ballot = accept.ballot;
  no.vote = Vote::kNo;
  no.highest = {90, 2};
  outbox_.clear();
  coordinator_.OnAccepted(1, no, At(1), &outbox_);
  coordinator_.OnAccepted(2, no, At(1), &outbox_);
  ASSERT_TRUE(SentPrepares()) << "no backoff: this was not a duel";
  EXPECT_GT(SentPrepare().ballot, (Ballot{90, 2}));
  EXPECT_EQ(SentPrepare().ballot.step, 0u);
  EXPECT_EQ(coordinator_.stats().fast_rounds_refused, 1u);
  EXPECT_TRUE(Results().empty());
}

TEST_F(FastWriteTest, OnlyFromItsOwnSettledLiveRegister) {
  const Ballot lock_ballot = LockThroughARound();
  const LeaseView mine = local_.lease;
  const auto full_round = [&](WriteOp op, const char* owner, const LocalRegister& local) {
    local_ = local;
    Submit(op, owner);
    const bool full = SentPrepares();
    if (!full) return false;
    // Let the round end, so that the next write on the key starts at once.
    Expect(SentPrepare());
    Promise(0, Vote::kNo, {}, {}, 0, 0, Ballot{1000, 2});
    Promise(1, Vote::kNo, {}, {}, 0, 0, Ballot{1000, 2});
    for (int i = 0; i < 10 && coordinator_.rounds_in_flight() > 0; ++i) {
      coordinator_.Tick(At(600 * (i + 1)), &outbox_);
    }
    Results();
    return full;
  };
  EXPECT_TRUE(full_round(WriteOp::kRelease, "me", {{5, 1}, {5, 1}, mine})) << "another member's ballot";
  EXPECT_TRUE(full_round(WriteOp::kRelease, "me", {{80, 1}, lock_ballot, mine}))
      << "a higher promise since";
  LeaseView ending = mine;
  ending.remaining_ms = FastWriteMarginMs(0.01, 60'000);
  EXPECT_TRUE(full_round(WriteOp::kRelease, "me", {lock_ballot, lock_ballot, ending}))
      << "too close to its end to be sure it is live everywhere";
  EXPECT_TRUE(full_round(WriteOp::kRelease, "me", {lock_ballot, lock_ballot, {}})) << "free";
  EXPECT_TRUE(full_round(WriteOp::kLock, "rival", {lock_ballot, lock_ballot, mine}))
      << "a refusal is read from a majority";
  EXPECT_TRUE(full_round(WriteOp::kRelease, "rival", {lock_ballot, lock_ballot, mine}));
  EXPECT_EQ(coordinator_.stats().fast_rounds, 0u);
}

TEST_F(FastWriteTest, NotFromABallotOfAnEarlierRun) {
  // A restarted member's coordinator starts above what it saved; a register
  // accepted at its ballot from before has steps this run cannot know of.
  coordinator_.RaiseBallot({500, 0});
  EXPECT_GT(LockThroughARound().round, 500u);
  local_ = {{400, 0}, {400, 0}, {true, "me", 42, 10'000}};
  Submit(WriteOp::kRelease);
  EXPECT_TRUE(SentPrepares());
  EXPECT_EQ(coordinator_.stats().fast_rounds, 0u);
}

TEST_F(FastWriteTest, OnlyWhileAMajorityIsReachable) {
  LockThroughARound();
  const LocalRegister settled = local_;
  coordinator_.SetReachable(2, false);
  Submit(WriteOp::kExtend, "me", 10'000);
  EXPECT_FALSE(SentPrepares()) << "itself and member 1 are a majority";
  round_id_ = SentAccept().round_id;
  ballot_ = SentAccept().ballot;
  AcceptedByTheOthers({1});
  Accepted(0, Vote::kYes);
  Results();
  // With members 1 and 2 gone, the write cannot succeed: it runs the full
  // round (which says so) instead.
  local_ = {ballot_, ballot_, settled.lease, 0};
  coordinator_.SetReachable(1, false);
  Submit(WriteOp::kRelease);
  EXPECT_TRUE(SentPrepares());
  EXPECT_EQ(coordinator_.stats().fast_rounds, 1u);
}

}  // namespace
}  // namespace lockerd::cluster
