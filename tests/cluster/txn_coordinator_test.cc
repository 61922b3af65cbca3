// Transactions over several keys (cluster/txn.h): first the TxnCoordinator
// stepped by hand, as if it were member 0 of three (messages in, messages
// and results out); then three real Nodes whose messages the test delivers,
// holds back, duplicates or drops; then a member alone.
#include "cluster/txn_coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

constexpr int64_t kWallMs = 1'790'000'000'000;

// What a body saw and decided, for the test to look at after the fact. The
// body may run more than once; the last run is the one that was committed.
struct BodyLog {
  int runs = 0;
  std::vector<LeaseView> last_view;
  uint64_t last_counter_max = 0;
  bool wrote = false;
  std::vector<uint64_t> tokens;
};

// Takes every key if all are free (tokens from the largest counter, as a
// LOCK's); else writes nothing.
TxnBody AcquireAll(std::shared_ptr<BodyLog> log, std::string owner, int64_t ttl_ms) {
  return [log, owner, ttl_ms](const TxnView& view) {
    ++log->runs;
    log->last_view = view.leases;
    log->last_counter_max = view.counter_max;
    std::vector<TxnWrite> writes(view.keys.size());
    log->wrote = std::none_of(view.leases.begin(), view.leases.end(),
                              [](const LeaseView& lease) { return lease.held; });
    log->tokens.assign(view.keys.size(), 0);
    if (!log->wrote) return writes;
    uint64_t token = view.counter_max;
    for (size_t i = 0; i < writes.size(); ++i) {
      token = NextToken(token, view.wall_ms);
      writes[i] = {true, true, owner, token, ttl_ms, /*grants=*/true};
      log->tokens[i] = token;
    }
    return writes;
  };
}

// Reads and writes nothing.
TxnBody ReadOnly(std::shared_ptr<BodyLog> log) {
  return [log](const TxnView& view) {
    ++log->runs;
    log->last_view = view.leases;
    log->last_counter_max = view.counter_max;
    return std::vector<TxnWrite>(view.keys.size());
  };
}

// ------------------------------------------------ the coordinator by hand

class TxnCoordinatorTest : public ::testing::Test {
 protected:
  static CoordinatorOptions Options(size_t members = 3) {
    CoordinatorOptions options;
    options.membership = cluster::Membership::Initial(members);
    options.self = 0;
    options.max_lease_ms = 10'000;
    options.round_timeout_ms = 500;
    options.seed = 11;
    return options;
  }

  TxnCoordinatorTest() : ballots_(Options()), txn_(Options(), &ballots_) {}

  static Time At(int64_t mono_ms) { return {mono_ms, kWallMs + mono_ms}; }

  void Submit(std::vector<std::string> keys, TxnBody body, int64_t now_ms = 0,
              bool peek_first = false) {
    keys_ = keys;
    TxnRequest request;
    request.request_id = 42;
    request.keys = std::move(keys);
    request.body = std::move(body);
    request.peek_first = peek_first;
    outbox_.clear();
    txn_.Submit(std::move(request), At(now_ms), &outbox_);
    Note();
  }

  // Remembers the round id and ballot of the last prepare and accept sent
  // for each key, so that replies can answer them.
  void Note() {
    for (const Message& message : outbox_) {
      if (const auto* prepare = std::get_if<Prepare>(&message.body)) {
        prepared_[prepare->key] = {prepare->round_id, prepare->ballot};
      } else if (const auto* accept = std::get_if<Accept>(&message.body)) {
        accepted_[accept->key] = {accept->round_id, accept->ballot};
      }
    }
  }

  cluster::Promise MakePromise(size_t key, Vote vote, LeaseView lease = {}, Ballot accepted = {},
                               uint64_t counter = 0) const {
    const auto& [round_id, ballot] = prepared_.at(keys_.at(key));
    cluster::Promise promise;
    promise.round_id = round_id;
    promise.ballot = ballot;
    promise.vote = vote;
    promise.lease = std::move(lease);
    promise.accepted = accepted;
    promise.token_counter = counter;
    promise.highest = ballot;
    return promise;
  }

  void Promise(MemberId from, size_t key, Vote vote, LeaseView lease = {}, Ballot accepted = {},
               uint64_t counter = 0, int64_t now_ms = 0) {
    Deliver(from, MakePromise(key, vote, std::move(lease), accepted, counter), now_ms);
  }

  void Deliver(MemberId from, const cluster::Promise& promise, int64_t now_ms = 0) {
    outbox_.clear();
    txn_.OnPromise(from, promise, At(now_ms), &outbox_);
    Note();
  }

  cluster::Accepted MakeAccepted(size_t key, Vote vote) const {
    const auto& [round_id, ballot] = accepted_.at(keys_.at(key));
    cluster::Accepted accepted;
    accepted.round_id = round_id;
    accepted.ballot = ballot;
    accepted.vote = vote;
    accepted.highest = ballot;
    return accepted;
  }

  void Accepted(MemberId from, size_t key, Vote vote, int64_t now_ms = 0) {
    Deliver(from, MakeAccepted(key, vote), now_ms);
  }

  void Deliver(MemberId from, const cluster::Accepted& accepted, int64_t now_ms = 0) {
    outbox_.clear();
    txn_.OnAccepted(from, accepted, At(now_ms), &outbox_);
    Note();
  }

  void Tick(int64_t now_ms) {
    outbox_.clear();
    txn_.Tick(At(now_ms), &outbox_);
    Note();
  }

  // Messages of one kind in the last outbox.
  template <typename T>
  std::vector<T> Sent() const {
    std::vector<T> out;
    for (const Message& message : outbox_) {
      if (const auto* body = std::get_if<T>(&message.body)) out.push_back(*body);
    }
    return out;
  }

  std::vector<WriteResult> Results() {
    std::vector<WriteResult> results;
    txn_.TakeResults(&results);
    return results;
  }

  Ballot PreparedBallot(size_t key) const { return prepared_.at(keys_.at(key)).second; }

  // `members` accept every accept of the last outbox (or of `accepts`).
  void AcceptWhatWasSent(const std::vector<MemberId>& members, int64_t now_ms = 0) {
    AcceptWhatWasSent(Sent<Accept>(), members, now_ms);
  }
  void AcceptWhatWasSent(const std::vector<Accept>& accepts, const std::vector<MemberId>& members,
                         int64_t now_ms = 0) {
    std::vector<size_t> keys;
    for (const Accept& accept : accepts) {
      const size_t key = static_cast<size_t>(
          std::find(keys_.begin(), keys_.end(), accept.key) - keys_.begin());
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    for (const size_t key : keys) {
      for (const MemberId member : members) Accepted(member, key, Vote::kYes, now_ms);
    }
  }

  Coordinator ballots_;
  TxnCoordinator txn_;
  std::vector<std::string> keys_;
  std::vector<Message> outbox_;
  std::map<std::string, std::pair<uint64_t, Ballot>> prepared_;
  std::map<std::string, std::pair<uint64_t, Ballot>> accepted_;
};

TEST_F(TxnCoordinatorTest, PreparesEveryKeyOnEveryMemberAtOneBallot) {
  Submit({"a", "b"}, ReadOnly(std::make_shared<BodyLog>()));
  const std::vector<Prepare> prepares = Sent<Prepare>();
  ASSERT_EQ(prepares.size(), 6u) << "2 keys x 3 members";
  for (const Prepare& prepare : prepares) {
    EXPECT_EQ(prepare.ballot, prepares.front().ballot);
    EXPECT_FALSE(prepare.peek);
    EXPECT_TRUE(TxnCoordinator::Owns(prepare.round_id));
  }
  EXPECT_NE(prepared_["a"].first, prepared_["b"].first) << "one round id per key";
  EXPECT_EQ(prepares.front().ballot.member, 0u);
  EXPECT_EQ(txn_.in_flight(), 1u);
  EXPECT_EQ(txn_.NextWakeMs(), 500) << "the round timeout";
}

TEST_F(TxnCoordinatorTest, BallotsComeFromTheSingleKeyCoordinator) {
  const Ballot before = ballots_.last_ballot();
  Submit({"a"}, ReadOnly(std::make_shared<BodyLog>()));
  EXPECT_GT(PreparedBallot(0), before);
  EXPECT_EQ(ballots_.last_ballot(), PreparedBallot(0)) << "no ballot is used twice on a key";
}

TEST_F(TxnCoordinatorTest, TwoKeysFreeAreTakenWithTokensAboveEveryCounter) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000));
  Promise(0, 0, Vote::kYes, {}, {}, 100);
  Promise(1, 0, Vote::kYes, {}, {}, kWallMs * 1000 + 5'000'000);  // A counter above the floor.
  EXPECT_EQ(log->runs, 0) << "the body waits for every key";
  Promise(0, 1, Vote::kYes, {}, {}, 100);
  EXPECT_TRUE(Sent<Accept>().empty());
  Promise(2, 1, Vote::kYes, {}, {}, 120);
  ASSERT_EQ(log->runs, 1);
  EXPECT_EQ(log->last_counter_max, kWallMs * 1000 + 5'000'000) << "the largest of all keys' promises";
  const std::vector<Accept> accepts = Sent<Accept>();
  ASSERT_EQ(accepts.size(), 6u);
  for (const Accept& accept : accepts) {
    EXPECT_EQ(accept.ballot, PreparedBallot(0)) << "the promises' ballot";
    EXPECT_TRUE(accept.held);
    EXPECT_EQ(accept.owner, "me");
    EXPECT_EQ(accept.ttl_ms, 1000);
    EXPECT_GT(accept.token, log->last_counter_max);
  }
  EXPECT_EQ(log->tokens[0], kWallMs * 1000 + 5'000'001);
  EXPECT_EQ(log->tokens[1], kWallMs * 1000 + 5'000'002);
  // Key a reaches a majority first: no answer until b does too.
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);
  EXPECT_TRUE(Results().empty());
  Accepted(0, 1, Vote::kYes);
  Accepted(2, 1, Vote::kYes, /*now_ms=*/10);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].request_id, 42u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  // The members that did not accept learn the chosen values.
  const std::vector<Learn> learns = Sent<Learn>();
  ASSERT_EQ(learns.size(), 2u);
  EXPECT_EQ(txn_.stats().committed, 1u);
  EXPECT_EQ(txn_.in_flight(), 0u);
}

TEST_F(TxnCoordinatorTest, AReadThatAMajorityAgreesOnIsAnsweredAfterPhaseOne) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000));
  const LeaseView other{true, "other", 77, 800};
  Promise(1, 0, Vote::kYes, other, {3, 1}, 77);
  Promise(2, 0, Vote::kYes, {true, "other", 77, 790}, {3, 1}, 77);
  ASSERT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote);
  EXPECT_EQ(log->last_view[0].owner, "other");
  EXPECT_EQ(log->last_view[0].remaining_ms, 800) << "between equals, the copy with more left";
  EXPECT_TRUE(Sent<Accept>().empty()) << "the register read was chosen: nothing to write back";
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(txn_.stats().read_only, 1u);
  EXPECT_EQ(txn_.stats().written_back, 0u);
  // The third promise, late, changes nothing.
  Promise(0, 0, Vote::kYes);
  EXPECT_TRUE(outbox_.empty());
  EXPECT_TRUE(Results().empty());
}

TEST_F(TxnCoordinatorTest, AReadOfAFreeKeyNeverWrittenNeedsNoWriteBack) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, ReadOnly(log));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  EXPECT_EQ(log->runs, 1);
  EXPECT_TRUE(Sent<Accept>().empty());
  ASSERT_EQ(Results().size(), 1u);
}

TEST_F(TxnCoordinatorTest, AReadNotYetChosenIsWrittenBackAtTheTxnBallot) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000));
  // Member 1 accepted a lease of "other" that member 2 never saw: it may or
  // may not be chosen. The highest accepted register wins...
  Promise(1, 0, Vote::kYes, {true, "other", 77, 800}, {3, 1}, 77);
  Promise(2, 0, Vote::kYes, {}, {2, 2}, 50);
  ASSERT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote) << "held by other";
  // ...and is written back, so that no later round can choose something
  // older than what the body saw.
  const std::vector<Accept> accepts = Sent<Accept>();
  ASSERT_EQ(accepts.size(), 3u);
  for (const Accept& accept : accepts) {
    EXPECT_EQ(accept.ballot, PreparedBallot(0));
    EXPECT_TRUE(accept.held);
    EXPECT_EQ(accept.owner, "other");
    EXPECT_EQ(accept.token, 77u);
    EXPECT_EQ(accept.ttl_ms, CarriedOverMs(800, 0.01, 10'000)) << "never shorter than what was left";
  }
  EXPECT_EQ(txn_.stats().written_back, 1u);
  EXPECT_TRUE(Results().empty()) << "not answered before the write-back is accepted";
  Accepted(1, 0, Vote::kYes);
  Accepted(2, 0, Vote::kYes);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  ASSERT_EQ(Sent<Learn>().size(), 1u);
  EXPECT_EQ(Sent<Learn>()[0].owner, "other");
}

TEST_F(TxnCoordinatorTest, AFreeReadNotYetChosenIsWrittenBackFree) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, ReadOnly(log));
  Promise(0, 0, Vote::kYes, {true, "old", 5, 300}, {3, 1}, 5);
  Promise(1, 0, Vote::kYes, {}, {4, 2}, 5);  // Released at a higher ballot.
  ASSERT_EQ(log->runs, 1);
  EXPECT_FALSE(log->last_view[0].held);
  const std::vector<Accept> accepts = Sent<Accept>();
  ASSERT_EQ(accepts.size(), 3u);
  EXPECT_FALSE(accepts[0].held);
}

TEST_F(TxnCoordinatorTest, PreemptedReadIsRetriedAtAHigherBallotOnFreshState) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000));
  const Ballot first = PreparedBallot(0);
  // Key a is read (free); key b is pre-empted by a rival's higher ballot.
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  const cluster::Promise stale_a = MakePromise(0, Vote::kYes);
  cluster::Promise refused = MakePromise(1, Vote::kNo);
  refused.highest = {40, 2};
  Deliver(1, refused);
  refused.highest = {41, 2};
  Deliver(2, refused);
  EXPECT_EQ(log->runs, 0) << "the body runs only on a complete snapshot";
  EXPECT_EQ(txn_.stats().retried, 1u);
  EXPECT_TRUE(Results().empty());
  // The retry starts at once or after a short backoff.
  if (Sent<Prepare>().empty()) Tick(100);
  ASSERT_EQ(Sent<Prepare>().size(), 6u);
  const Ballot second = PreparedBallot(0);
  EXPECT_GT(second, first);
  EXPECT_GT(second, (Ballot{41, 2})) << "above the ballot that beat it";
  EXPECT_EQ(PreparedBallot(1), second);
  // A late promise of the first attempt is not counted.
  Deliver(2, stale_a, 100);
  EXPECT_GE(txn_.stats().stale_replies, 1u);
  // Meanwhile the rival took key a: the body sees that, and takes nothing.
  Promise(0, 0, Vote::kYes, {true, "rival", 9, 900}, {41, 2}, 9, 101);
  Promise(1, 0, Vote::kYes, {true, "rival", 9, 900}, {41, 2}, 9, 101);
  Promise(0, 1, Vote::kYes, {}, {}, 9, 101);
  Promise(1, 1, Vote::kYes, {}, {}, 9, 101);
  ASSERT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote);
  EXPECT_EQ(log->last_view[0].owner, "rival");
  AcceptWhatWasSent({1, 2});  // Write-backs, if any were sent.
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(txn_.stats().started, 2u);
}

TEST_F(TxnCoordinatorTest, PreemptedRepeatedlyGivesUpWithNoQuorum) {
  Submit({"a"}, ReadOnly(std::make_shared<BodyLog>()));
  bool finished = false;
  for (int attempt = 0; attempt < kRoundAttemptsMax + 2 && !finished; ++attempt) {
    if (Sent<Prepare>().empty()) Tick(attempt * 100);
    ASSERT_FALSE(Sent<Prepare>().empty()) << attempt;
    Promise(1, 0, Vote::kNo, {}, {}, 0, attempt * 100);
    Promise(2, 0, Vote::kNo, {}, {}, 0, attempt * 100);
    const std::vector<WriteResult> results = Results();
    if (!results.empty()) {
      EXPECT_EQ(attempt, kRoundAttemptsMax - 1);
      EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
      EXPECT_NE(results[0].detail.find("pre-empted"), std::string::npos) << results[0].detail;
      finished = true;
    }
  }
  EXPECT_TRUE(finished);
  EXPECT_EQ(txn_.in_flight(), 0u);
}

// A commit pre-empted (phase 2): the body is not run again (its writes may
// be in effect). When every key it wrote is a new lease, a retry reads
// again: finding those leases it writes them back; else it answers
// NOQUORUM. Otherwise the answer is NOQUORUM at once.
class PreemptedCommitTest : public TxnCoordinatorTest {
 protected:
  // Pre-empts the commit of `key` with two refusals.
  void Refuse(size_t key) {
    cluster::Accepted refused = MakeAccepted(key, Vote::kNo);
    refused.highest = {50, 2};
    Deliver(1, refused);
    Deliver(2, refused);
  }
  // The retry's prepares: at once or after its backoff.
  void AwaitRetry() {
    if (Sent<Prepare>().empty()) Tick(100);
  }
};

TEST_F(PreemptedCommitTest, NewLeaseFoundAgainIsWrittenBackAndAnswered) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  const Accept sent = Sent<Accept>().at(0);
  Refuse(0);
  EXPECT_TRUE(Results().empty());
  AwaitRetry();
  ASSERT_EQ(Sent<Prepare>().size(), 3u);
  EXPECT_FALSE(Sent<Prepare>()[0].peek);
  EXPECT_GT(PreparedBallot(0), (Ballot{50, 2}));
  // A rival carried the lease on (it reached member 1 first).
  const LeaseView mine{true, "me", sent.token, 990};
  Promise(1, 0, Vote::kYes, mine, {50, 2}, sent.token, 100);
  Promise(2, 0, Vote::kYes, {}, {}, sent.token, 100);
  EXPECT_EQ(log->runs, 1) << "the body is never run again after a commit";
  const std::vector<Accept> again = Sent<Accept>();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].owner, "me");
  EXPECT_EQ(again[0].token, sent.token);
  EXPECT_EQ(again[0].ttl_ms, CarriedOverMs(990, 0.01, 10'000));
  AcceptWhatWasSent({1, 2});
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(txn_.stats().carried_on, 1u);
}

TEST_F(PreemptedCommitTest, NewLeaseNotFoundAgainAnswersNoQuorum) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  Refuse(0);
  AwaitRetry();
  Promise(1, 0, Vote::kYes, {true, "rival", 99, 900}, {50, 2}, 99, 100);
  Promise(2, 0, Vote::kYes, {true, "rival", 99, 900}, {50, 2}, 99, 100);
  EXPECT_EQ(log->runs, 1);
  // What was found is written back first, so that the lost lease, if it
  // sits on a minority, can never be chosen later.
  const std::vector<Accept> back = Sent<Accept>();
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].owner, "rival");
  EXPECT_EQ(back[0].token, 99u);
  EXPECT_TRUE(Results().empty());
  AcceptWhatWasSent({1, 2});
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_NE(results[0].detail.find("pre-empted"), std::string::npos) << results[0].detail;
}

TEST_F(PreemptedCommitTest, NewLeaseFoundAfterItRanOutIsNoSuccess) {
  Submit({"a"}, AcquireAll(std::make_shared<BodyLog>(), "me", 100));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  const Accept sent = Sent<Accept>().at(0);
  Refuse(0);
  AwaitRetry();
  Promise(1, 0, Vote::kYes, {true, "me", sent.token, 5}, {50, 2}, sent.token, 100);
  Promise(2, 0, Vote::kYes, {}, {}, 0, 100);
  ASSERT_EQ(Sent<Accept>().size(), 3u) << "found: written back";
  // The write-back's majority comes 100 ms after the first commit's
  // promises went out: the lease (100 ms, counted from then) is worth
  // nothing by now, however fresh the retry's own promises are.
  AcceptWhatWasSent({1, 2}, 100);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum) << "100 * 0.99 - 100 <= 0";
  EXPECT_NE(results[0].detail.find("ran out"), std::string::npos) << results[0].detail;
}

TEST_F(PreemptedCommitTest, TwoNewLeasesOneAcceptedOneLostAnswersNoQuorumInPart) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000));
  for (MemberId member : {0u, 1u}) {
    for (size_t key : {0u, 1u}) Promise(member, key, Vote::kYes);
  }
  const std::vector<Accept> sent = Sent<Accept>();
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);  // Key a is chosen.
  Refuse(1);                   // Key b is pre-empted.
  EXPECT_TRUE(Results().empty()) << "first, it looks again";
  AwaitRetry();
  Promise(0, 0, Vote::kYes, {true, "me", log->tokens[0], 990}, PreparedBallot(0), 0, 100);
  Promise(1, 0, Vote::kYes, {true, "me", log->tokens[0], 990}, PreparedBallot(0), 0, 100);
  Promise(1, 1, Vote::kYes, {true, "rival", 99, 900}, {50, 2}, 99, 100);
  Promise(2, 1, Vote::kYes, {true, "rival", 99, 900}, {50, 2}, 99, 100);
  EXPECT_TRUE(Results().empty()) << "what was found is written back first";
  AcceptWhatWasSent({1, 2}, 100);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_NE(results[0].detail.find("in part"), std::string::npos) << results[0].detail;
  EXPECT_EQ(log->runs, 1);
}

// A renewal: the same owner and token as read, with a new ttl.
TxnBody Renew(std::shared_ptr<BodyLog> log) {
  return [log](const TxnView& view) {
    ++log->runs;
    std::vector<TxnWrite> writes(1);
    if (view.leases[0].held && view.leases[0].owner == "me") {
      writes[0] = {true, true, "me", view.leases[0].token, 2000, true};
    }
    return writes;
  };
}

// A release: frees the key if "me" holds it.
TxnBody Free(std::shared_ptr<BodyLog> log) {
  return [log](const TxnView& view) {
    ++log->runs;
    std::vector<TxnWrite> writes(1);
    if (view.leases[0].held && view.leases[0].owner == "me") writes[0] = {true, false, {}, 0, 0, false};
    return writes;
  };
}

TEST_F(PreemptedCommitTest, RenewalFoundAsReadRunsTheBodyAgain) {
  // Nothing was chosen since the read (same accepted ballot): nothing of the
  // body's took effect, so running it again acts once.
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, Renew(log));
  Promise(0, 0, Vote::kYes, {true, "me", 7, 500}, {3, 1}, 7);
  Promise(1, 0, Vote::kYes, {true, "me", 7, 500}, {3, 1}, 7);
  Refuse(0);
  EXPECT_TRUE(Results().empty());
  AwaitRetry();
  Promise(1, 0, Vote::kYes, {true, "me", 7, 450}, {3, 1}, 7, 50);
  Promise(2, 0, Vote::kYes, {true, "me", 7, 450}, {3, 1}, 7, 50);
  EXPECT_EQ(log->runs, 2);
  EXPECT_EQ(txn_.stats().rerun_unchanged, 1u);
  ASSERT_EQ(Sent<Accept>().size(), 3u);
  EXPECT_EQ(Sent<Accept>()[0].ttl_ms, 2000);
}

TEST_F(PreemptedCommitTest, RenewalCarriedOnIsSentAgainAndAnswered) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, Renew(log));
  Promise(0, 0, Vote::kYes, {true, "me", 7, 500}, {3, 1}, 7);
  Promise(1, 0, Vote::kYes, {true, "me", 7, 500}, {3, 1}, 7);
  Refuse(0);
  AwaitRetry();
  // A rival's round carried the renewal on: the same lease at its ballot.
  Promise(1, 0, Vote::kYes, {true, "me", 7, 1900}, {50, 2}, 7, 100);
  Promise(2, 0, Vote::kYes, {true, "me", 7, 1900}, {50, 2}, 7, 100);
  EXPECT_EQ(log->runs, 1) << "a write that may have taken effect is never made twice";
  const std::vector<Accept> again = Sent<Accept>();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].owner, "me");
  EXPECT_EQ(again[0].token, 7u);
  EXPECT_EQ(again[0].ttl_ms, 2000);
  AcceptWhatWasSent({1, 2});
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(txn_.stats().carried_on, 1u);
}

TEST_F(PreemptedCommitTest, ReleaseFoundEndedBeforeTheLeaseCouldRunOutIsAnswered) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, Free(log));
  Promise(0, 0, Vote::kYes, {true, "me", 7, 5000}, {3, 1}, 7);
  Promise(1, 0, Vote::kYes, {true, "me", 7, 5000}, {3, 1}, 7);
  Refuse(0);
  AwaitRetry();
  // The lease had seconds left, yet the key is now held by the next holder.
  Promise(1, 0, Vote::kYes, {true, "next", 9, 900}, {50, 2}, 9, 100);
  Promise(2, 0, Vote::kYes, {true, "next", 9, 900}, {50, 2}, 9, 100);
  EXPECT_EQ(log->runs, 1);
  const std::vector<Accept> again = Sent<Accept>();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].owner, "next") << "what was found is written back, not freed again";
  AcceptWhatWasSent({1, 2});
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
}

TEST_F(PreemptedCommitTest, ReleaseFoundStillHeldAfterAnotherWriteAnswersNoQuorum) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, Free(log));
  Promise(0, 0, Vote::kYes, {true, "me", 7, 5000}, {3, 1}, 7);
  Promise(1, 0, Vote::kYes, {true, "me", 7, 5000}, {3, 1}, 7);
  Refuse(0);
  AwaitRetry();
  // Renewed by someone at a higher ballot: the release did not take effect,
  // and the body cannot run again (something was chosen since its read).
  Promise(1, 0, Vote::kYes, {true, "me", 7, 4900}, {50, 2}, 7, 100);
  Promise(2, 0, Vote::kYes, {true, "me", 7, 4900}, {50, 2}, 7, 100);
  AcceptWhatWasSent({1, 2}, 100);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(log->runs, 1);
}

TEST_F(PreemptedCommitTest, OnlyWriteBacksPreemptedRunTheBodyAgain) {
  // The body wrote nothing; only a read was written back: running it again
  // on fresh state is safe.
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, ReadOnly(log));
  Promise(1, 0, Vote::kYes, {true, "other", 77, 800}, {3, 1}, 77);
  Promise(2, 0, Vote::kYes, {}, {2, 2}, 50);
  ASSERT_EQ(Sent<Accept>().size(), 3u);
  Refuse(0);
  AwaitRetry();
  ASSERT_EQ(Sent<Prepare>().size(), 3u);
  Promise(1, 0, Vote::kYes, {}, {50, 2}, 77, 100);
  Promise(2, 0, Vote::kYes, {}, {50, 2}, 77, 100);
  EXPECT_EQ(log->runs, 2);
  EXPECT_FALSE(log->last_view[0].held) << "the second run saw the rival's release";
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
}

TEST_F(TxnCoordinatorTest, QuarantinedMajorityAnswersTryAgain) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000));
  Promise(0, 0, Vote::kYes);
  cluster::Promise quarantined = MakePromise(0, Vote::kQuarantined);
  quarantined.quarantine_left_ms = 3000;
  Deliver(1, quarantined);
  quarantined.quarantine_left_ms = 2500;
  Deliver(2, quarantined);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kTryAgain);
  EXPECT_NE(results[0].detail.find("3000 ms"), std::string::npos) << results[0].detail;
  EXPECT_EQ(log->runs, 0);
  EXPECT_TRUE(Sent<Prepare>().empty()) << "a retry would meet the same wall";
  EXPECT_EQ(txn_.in_flight(), 0u);
}

TEST_F(TxnCoordinatorTest, QuarantineWithAHigherBallotRetries) {
  Submit({"a"}, ReadOnly(std::make_shared<BodyLog>()));
  Promise(1, 0, Vote::kQuarantined);
  Promise(2, 0, Vote::kNo);  // Outvoted too: a higher ballot can win.
  EXPECT_TRUE(Results().empty());
  EXPECT_EQ(txn_.stats().retried, 1u);
}

TEST_F(TxnCoordinatorTest, TimeoutInPhaseOneAnswersNoQuorum) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000), /*now_ms=*/1000);
  Promise(0, 0, Vote::kYes, {}, {}, 0, 1000);
  Promise(0, 1, Vote::kYes, {}, {}, 0, 1000);
  Promise(1, 1, Vote::kYes, {}, {}, 0, 1000);
  Tick(1499);
  EXPECT_TRUE(Results().empty());
  EXPECT_EQ(txn_.NextWakeMs(), 1500);
  Tick(1500);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(results[0].detail, "1 of 3 members answered, 1 agreed; a majority is 2")
      << "the key that fell shortest";
  EXPECT_EQ(log->runs, 0);
  EXPECT_EQ(txn_.stats().timed_out, 1u);
  EXPECT_EQ(txn_.in_flight(), 0u);
  EXPECT_FALSE(txn_.NextWakeMs().has_value());
}

TEST_F(TxnCoordinatorTest, TimeoutInPhaseTwoAnswersNoQuorumAndSaysWhatMayHaveHappened) {
  Submit({"a", "b"}, AcquireAll(std::make_shared<BodyLog>(), "me", 1000));
  for (MemberId member : {0u, 1u}) {
    for (size_t key : {0u, 1u}) Promise(member, key, Vote::kYes);
  }
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);
  Accepted(0, 1, Vote::kYes);
  Tick(500);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_NE(results[0].detail.find("1 agreed"), std::string::npos) << results[0].detail;
  EXPECT_NE(results[0].detail.find("in part"), std::string::npos) << results[0].detail;
}

// A failed transaction's fresh grants are undone, as a failed LOCK's: the
// single-key coordinator gets a rollback of exactly that ballot's write for
// each key the script read free and took, none for a key it did not take.
TEST_F(TxnCoordinatorTest, FailedCommitRollsBackItsFreshGrants) {
  Submit({"a", "b"}, AcquireAll(std::make_shared<BodyLog>(), "me", 1000));
  for (MemberId member : {0u, 1u}) {
    for (size_t key : {0u, 1u}) Promise(member, key, Vote::kYes);
  }
  const Ballot grant_ballot = accepted_.at("a").second;
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);  // a is chosen; b's commit never completes.
  outbox_.clear();
  Tick(500);
  ASSERT_EQ(Results().size(), 1u);
  EXPECT_EQ(txn_.stats().rollbacks, 2u);
  EXPECT_EQ(ballots_.rounds_in_flight(), 2u);
  std::set<std::string> undone;
  for (const Message& message : outbox_) {
    if (const auto* prepare = std::get_if<Prepare>(&message.body)) {
      EXPECT_GT(prepare->ballot, grant_ballot);
      undone.insert(prepare->key);
    }
  }
  EXPECT_EQ(undone, (std::set<std::string>{"a", "b"}));
}

TEST_F(TxnCoordinatorTest, SuccessfulCommitRollsBackNothing) {
  Submit({"a"}, AcquireAll(std::make_shared<BodyLog>(), "me", 1000));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);
  ASSERT_EQ(Results().size(), 1u);
  EXPECT_EQ(txn_.stats().rollbacks, 0u);
  EXPECT_EQ(ballots_.rounds_in_flight(), 0u);
}

TEST_F(TxnCoordinatorTest, GrantAcceptedAfterItsLeaseRanOutIsNoSuccess) {
  Submit({"a"}, AcquireAll(std::make_shared<BodyLog>(), "me", 50));
  Promise(0, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  Accepted(0, 0, Vote::kYes, 60);
  Accepted(1, 0, Vote::kYes, 60);  // 50 * 0.99 - 60 <= 0.
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
  EXPECT_EQ(txn_.stats().committed, 0u);
}

// peek_first (the server's dry run found the script would only read): a
// one-key txn reads a majority without promising.
TEST_F(TxnCoordinatorTest, PeekThatAMajorityAgreesOnAnswersWithoutPromising) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000), 0, /*peek_first=*/true);
  const std::vector<Prepare> peeks = Sent<Prepare>();
  ASSERT_EQ(peeks.size(), 3u);
  for (const Prepare& prepare : peeks) EXPECT_TRUE(prepare.peek);
  Promise(1, 0, Vote::kYes, {true, "other", 77, 800}, {3, 1}, 77);
  EXPECT_EQ(log->runs, 0);
  Promise(2, 0, Vote::kYes, {true, "other", 77, 700}, {3, 1}, 77);
  ASSERT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote);
  EXPECT_EQ(log->last_view[0].remaining_ms, 700) << "a peek counts the least time left";
  EXPECT_TRUE(outbox_.empty()) << "no prepare, no accept";
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(txn_.stats().peeks, 1u);
  EXPECT_EQ(txn_.stats().peek_answers, 1u);
}

TEST_F(TxnCoordinatorTest, PeekThatDisagreesRunsTheFullRound) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000), 0, /*peek_first=*/true);
  const Ballot peek_ballot = PreparedBallot(0);
  Promise(1, 0, Vote::kYes, {true, "other", 77, 800}, {3, 1}, 77);
  Promise(2, 0, Vote::kYes, {}, {4, 2}, 77);  // Released since, on member 2.
  EXPECT_EQ(log->runs, 0) << "no majority agreed: nothing to run the body on";
  const std::vector<Prepare> prepares = Sent<Prepare>();
  ASSERT_EQ(prepares.size(), 3u);
  for (const Prepare& prepare : prepares) EXPECT_FALSE(prepare.peek);
  EXPECT_GT(PreparedBallot(0), peek_ballot);
  // A late peek reply is not counted in the round.
  cluster::Promise late;
  late.round_id = prepared_["a"].first;
  late.ballot = peek_ballot;
  Deliver(0, late);
  EXPECT_EQ(log->runs, 0);
  Promise(1, 0, Vote::kYes, {true, "other", 77, 790}, {3, 1}, 77);
  Promise(2, 0, Vote::kYes, {}, {4, 2}, 77);
  ASSERT_EQ(log->runs, 1);
  EXPECT_TRUE(log->wrote) << "free at the highest ballot";
  ASSERT_EQ(Sent<Accept>().size(), 3u);
  AcceptWhatWasSent({1, 2});
  ASSERT_EQ(Results().size(), 1u);
  EXPECT_EQ(txn_.stats().peek_answers, 0u);
}

TEST_F(TxnCoordinatorTest, PeekWhoseBodyWritesRunsTheFullRoundAndTheBodyAgain) {
  // The dry run guessed wrong: the key is free on a majority. The body that
  // ran on the peek is not the one committed; the round's run is.
  auto log = std::make_shared<BodyLog>();
  Submit({"a"}, AcquireAll(log, "me", 1000), 0, /*peek_first=*/true);
  Promise(1, 0, Vote::kYes, {}, {3, 1}, 10);
  Promise(2, 0, Vote::kYes, {}, {3, 1}, 10);
  ASSERT_EQ(log->runs, 1);
  EXPECT_TRUE(Sent<Accept>().empty()) << "a peek never commits";
  ASSERT_EQ(Sent<Prepare>().size(), 3u);
  EXPECT_FALSE(Sent<Prepare>()[0].peek);
  Promise(0, 0, Vote::kYes, {}, {3, 1}, 10);
  Promise(1, 0, Vote::kYes, {}, {3, 1}, 12);
  ASSERT_EQ(log->runs, 2);
  ASSERT_TRUE(log->wrote);
  EXPECT_EQ(log->last_counter_max, 12u) << "the round's counters, not the peek's";
  const std::vector<Accept> accepts = Sent<Accept>();
  ASSERT_EQ(accepts.size(), 3u);
  EXPECT_EQ(accepts[0].token, log->tokens[0]) << "the last run is the one committed";
  AcceptWhatWasSent({0, 1});
  ASSERT_EQ(Results().size(), 1u);
}

TEST_F(TxnCoordinatorTest, OnlyOneKeyTxnsPeek) {
  Submit({"a", "b"}, ReadOnly(std::make_shared<BodyLog>()), 0, /*peek_first=*/true);
  for (const Prepare& prepare : Sent<Prepare>()) EXPECT_FALSE(prepare.peek);
  EXPECT_EQ(txn_.stats().peeks, 0u);
}

TEST_F(TxnCoordinatorTest, PeekTimesOutWithNoQuorum) {
  Submit({"a"}, ReadOnly(std::make_shared<BodyLog>()), 0, /*peek_first=*/true);
  Promise(1, 0, Vote::kYes);
  Tick(500);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum);
}

TEST_F(TxnCoordinatorTest, StaleAndDuplicateRepliesAreIgnored) {
  auto log = std::make_shared<BodyLog>();
  Submit({"a", "b"}, AcquireAll(log, "me", 1000));
  // The same member twice makes no majority.
  Promise(1, 0, Vote::kYes);
  Promise(1, 0, Vote::kYes);
  Promise(1, 1, Vote::kYes);
  Promise(1, 1, Vote::kYes);
  EXPECT_EQ(log->runs, 0);
  // A promise at another ballot, for another txn, for a key index the txn
  // does not have, or from a stranger is not counted.
  cluster::Promise wrong = MakePromise(0, Vote::kYes);
  wrong.ballot.round += 1;
  Deliver(2, wrong);
  wrong = MakePromise(0, Vote::kYes);
  wrong.round_id += uint64_t{1} << 20;
  Deliver(2, wrong);
  wrong = MakePromise(0, Vote::kYes);
  wrong.round_id += 7;
  Deliver(2, wrong);
  Deliver(5, MakePromise(0, Vote::kYes));
  EXPECT_EQ(log->runs, 0);
  // An Accepted while reading is stale too.
  cluster::Accepted early;
  early.round_id = prepared_["a"].first;
  early.ballot = PreparedBallot(0);
  Deliver(2, early);
  EXPECT_TRUE(outbox_.empty());
  EXPECT_TRUE(Results().empty());
  Promise(2, 0, Vote::kYes);
  Promise(2, 1, Vote::kYes);
  ASSERT_EQ(log->runs, 1);
  // Duplicated accepts count once.
  Accepted(1, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);
  Accepted(1, 1, Vote::kYes);
  Accepted(1, 1, Vote::kYes);
  EXPECT_TRUE(Results().empty());
  Accepted(2, 0, Vote::kYes);
  Accepted(2, 1, Vote::kYes);
  ASSERT_EQ(Results().size(), 1u);
  // Everything after the answer is stale and answers nothing.
  const uint64_t stale_before = txn_.stats().stale_replies;
  Promise(0, 0, Vote::kYes);
  Accepted(0, 0, Vote::kNo);
  Accepted(0, 1, Vote::kYes);
  EXPECT_TRUE(Results().empty());
  EXPECT_TRUE(outbox_.empty());
  EXPECT_EQ(txn_.stats().stale_replies, stale_before + 3);
  EXPECT_GE(txn_.stats().stale_replies, 10u);
}

TEST_F(TxnCoordinatorTest, AnAcceptedForAKeyWithNoAcceptOutIsIgnored) {
  // Key a is written; whether key b (only read) gets an accept is the
  // coordinator's choice. An Accepted for a key with no accept out counts
  // for nothing.
  auto log = std::make_shared<BodyLog>();
  TxnBody body = [log](const TxnView& view) {
    ++log->runs;
    std::vector<TxnWrite> writes(view.keys.size());
    writes[0] = {true, true, "me", NextToken(view.counter_max, view.wall_ms), 1000, true};
    return writes;
  };
  Submit({"a", "b"}, body);
  for (MemberId member : {0u, 1u}) {
    for (size_t key : {0u, 1u}) Promise(member, key, Vote::kYes);
  }
  const std::vector<Accept> accepts = Sent<Accept>();
  const bool b_written = std::any_of(accepts.begin(), accepts.end(),
                                     [](const Accept& accept) { return accept.key == "b"; });
  if (!b_written) {
    ASSERT_EQ(accepts.size(), 3u);
    cluster::Accepted for_b = MakeAccepted(0, Vote::kYes);
    for_b.round_id = prepared_["b"].first;
    Deliver(1, for_b);
    Deliver(2, for_b);
    EXPECT_TRUE(Results().empty()) << "b has no accept out";
  }
  AcceptWhatWasSent(accepts, {0, 2});
  // (A coordinator may confirm the read before it sends the write.)
  for (int step = 0; step < 3 && !Sent<Accept>().empty(); ++step) AcceptWhatWasSent({0, 2});
  ASSERT_EQ(Results().size(), 1u);
}

// Member 2 is in quarantine when the txn reads; members 0 and 1 make the
// majority. Key a's commit is chosen; key b's times out (member 1's reply is
// lost). The client must hear that the writes may have taken effect in part
// (docs: -NOQUORUM saying so), not -TRYAGAIN, which says a restart
// quarantine stood in the way and invites a retry of a script whose writes
// are already partly applied. Tick answers kTryAgain whenever any member
// answered kQuarantined during the txn (OnAccepted's Impossible path does
// the same when quarantine refuses a commit after another key's reached).
TEST_F(TxnCoordinatorTest, TimeoutAfterAPartialCommitIsNotAnsweredTryAgain) {
  Submit({"a", "b"}, AcquireAll(std::make_shared<BodyLog>(), "me", 1000));
  for (size_t key : {0u, 1u}) {
    Promise(0, key, Vote::kYes);
    cluster::Promise quarantined = MakePromise(key, Vote::kQuarantined);
    quarantined.quarantine_left_ms = 5000;
    Deliver(2, quarantined);
    Promise(1, key, Vote::kYes);
  }
  Accepted(0, 0, Vote::kYes);
  Accepted(1, 0, Vote::kYes);  // a is chosen.
  Accepted(0, 1, Vote::kYes);  // b: member 1's reply is lost.
  Tick(500);
  const std::vector<WriteResult> results = Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kNoQuorum) << results[0].detail;
  EXPECT_NE(results[0].detail.find("in part"), std::string::npos) << results[0].detail;
}

TEST(TxnCoordinatorLimits, TooManyInFlightAnswersTryAgain) {
  CoordinatorOptions options;
  options.membership = cluster::Membership::Initial(3);
  Coordinator ballots(options);
  TxnCoordinator txn(options, &ballots);
  std::vector<Message> outbox;
  const TxnBody body = ReadOnly(std::make_shared<BodyLog>());
  for (size_t i = 0; i < kRoundsInFlightMax; ++i) {
    TxnRequest request;
    request.keys = {"k"};
    request.body = body;
    txn.Submit(std::move(request), {0, kWallMs}, &outbox);
    outbox.clear();
  }
  TxnRequest request;
  request.request_id = 9;
  request.keys = {"k"};
  request.body = ReadOnly(std::make_shared<BodyLog>());
  txn.Submit(std::move(request), {0, kWallMs}, &outbox);
  std::vector<WriteResult> results;
  txn.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kTryAgain);
  EXPECT_TRUE(outbox.empty());
}

// ----------------------------------------------- three Nodes, by hand

class TxnCluster {
 public:
  explicit TxnCluster(size_t members = 3) : members_(members) {
    for (size_t i = 0; i < members; ++i) nodes_.push_back(MakeNode(i));
  }

  static NodeOptions Options(size_t self, size_t members) {
    NodeOptions options;
    options.membership = cluster::Membership::Initial(members);
    options.self = static_cast<MemberId>(self);
    options.max_lease_ms = 1000;
    options.round_timeout_ms = 100;
    options.seed = 7 + self;
    return options;
  }

  Node& node(size_t i) { return *nodes_[i]; }
  Time now() const { return {now_ms_, kWallMs + now_ms_}; }

  uint64_t Write(size_t via, WriteOp op, const std::string& owner, const std::string& key = "k",
                 int64_t ttl_ms = 900) {
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

  uint64_t Txn(size_t via, std::vector<std::string> keys, TxnBody body) {
    TxnRequest request;
    request.request_id = next_id_++;
    request.keys = std::move(keys);
    request.body = std::move(body);
    const uint64_t id = request.request_id;
    nodes_[via]->SubmitTxn(std::move(request), now());
    Collect(via);
    return id;
  }

  // Delivers, in order, every in-flight message `pick` accepts, and what
  // they lead to that `pick` accepts, until none is left.
  void Deliver(const std::function<bool(const Message&)>& pick) {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < in_flight_.size(); ++i) {
        if (!pick(in_flight_[i])) continue;
        const Message message = in_flight_[i];
        in_flight_.erase(in_flight_.begin() + static_cast<long>(i));
        DeliverOne(message);
        progress = true;
        break;
      }
    }
  }
  void DeliverAll() {
    Deliver([](const Message&) { return true; });
  }
  void DeliverOne(const Message& message) {
    if (!nodes_[message.to]) return;
    nodes_[message.to]->Receive(message, now());
    Collect(message.to);
  }
  void Drop(const std::function<bool(const Message&)>& pick) { std::erase_if(in_flight_, pick); }
  std::vector<Message>& in_flight() { return in_flight_; }

  void Advance(int64_t ms) {
    now_ms_ += ms;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i]->Tick(now());
      Collect(i);
    }
  }

  void CrashAndRestart(size_t i) {
    std::erase_if(in_flight_, [i](const Message& m) { return m.to == i; });
    nodes_[i] = MakeNode(i);
    nodes_[i]->StartQuarantine(now());
    Collect(i);
  }

  void Collect(size_t i) {
    std::vector<Message> outbox;
    nodes_[i]->TakeOutbox(&outbox);
    for (const Message& message : outbox) {
      sent_.push_back(message);
      in_flight_.push_back(message);
    }
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
  WriteOutcome Outcome(uint64_t request_id) const {
    const auto result = Result(request_id);
    return result ? result->outcome : WriteOutcome::kNoQuorum;
  }
  size_t ResultsFor(uint64_t request_id) const {
    return static_cast<size_t>(std::count_if(results_.begin(), results_.end(),
                                             [&](const WriteResult& r) { return r.request_id == request_id; }));
  }

  // Members holding `key` for `owner` (with `token`, when not 0) now.
  size_t Holding(const std::string& key, const std::string& owner, uint64_t token = 0) const {
    size_t count = 0;
    for (const auto& node : nodes_) {
      const Register* reg = node->table().FindHeld(key, now_ms_);
      if (reg != nullptr && reg->owner == owner && (token == 0 || reg->token == token)) ++count;
    }
    return count;
  }

  // Every message any member sent, delivered or not.
  const std::vector<Message>& sent() const { return sent_; }

 private:
  std::unique_ptr<Node> MakeNode(size_t i) { return std::make_unique<Node>(Options(i, members_)); }

  size_t members_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Message> in_flight_;
  std::vector<Message> sent_;
  std::vector<WriteResult> results_;
  int64_t now_ms_ = 1000;
  uint64_t next_id_ = 1;
};

bool IsPrepare(const Message& m) { return std::holds_alternative<Prepare>(m.body); }
// A message of a transaction's rounds (as opposed to a single-key round's).
bool IsTxnMessage(const Message& m) {
  if (const auto* p = std::get_if<Prepare>(&m.body)) return TxnCoordinator::Owns(p->round_id);
  if (const auto* p = std::get_if<Promise>(&m.body)) return TxnCoordinator::Owns(p->round_id);
  if (const auto* a = std::get_if<Accept>(&m.body)) return TxnCoordinator::Owns(a->round_id);
  if (const auto* a = std::get_if<Accepted>(&m.body)) return TxnCoordinator::Owns(a->round_id);
  return false;
}
bool IsTxnAccept(const Message& m) {
  const auto* accept = std::get_if<Accept>(&m.body);
  return accept != nullptr && TxnCoordinator::Owns(accept->round_id);
}
bool IsTxnPrepare(const Message& m) {
  const auto* prepare = std::get_if<Prepare>(&m.body);
  return prepare != nullptr && TxnCoordinator::Owns(prepare->round_id);
}
std::string KeyOf(const Message& m) {
  if (const auto* prepare = std::get_if<Prepare>(&m.body)) return prepare->key;
  if (const auto* accept = std::get_if<Accept>(&m.body)) return accept->key;
  if (const auto* learn = std::get_if<Learn>(&m.body)) return learn->key;
  return {};
}

TEST(TxnNodes, TwoFreeKeysAreTakenWithTokensAboveEveryEarlierOne) {
  TxnCluster cluster;
  // Earlier holders of both keys, through different members.
  const uint64_t a0 = cluster.Write(1, WriteOp::kLock, "old", "a");
  const uint64_t b0 = cluster.Write(2, WriteOp::kLock, "old", "b");
  cluster.DeliverAll();
  const uint64_t a_token = cluster.Result(a0)->token;
  const uint64_t b_token = cluster.Result(b0)->token;
  cluster.Write(2, WriteOp::kRelease, "old", "a");
  cluster.Write(1, WriteOp::kRelease, "old", "b");
  cluster.DeliverAll();

  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(0, {"a", "b"}, AcquireAll(log, "me", 900));
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Outcome(txn), WriteOutcome::kDone) << cluster.Result(txn)->detail;
  EXPECT_EQ(cluster.ResultsFor(txn), 1u);
  ASSERT_TRUE(log->wrote);
  EXPECT_EQ(log->runs, 1);
  EXPECT_GT(log->tokens[0], std::max(a_token, b_token));
  EXPECT_GT(log->tokens[1], log->tokens[0]);
  EXPECT_GE(cluster.Holding("a", "me", log->tokens[0]), 2u) << "a majority";
  EXPECT_GE(cluster.Holding("b", "me", log->tokens[1]), 2u);
  EXPECT_EQ(cluster.Holding("a", "me", log->tokens[0]), 3u) << "and the third learned it";
  // Single-key writes see the txn's leases.
  const uint64_t lock = cluster.Write(1, WriteOp::kLock, "other", "a");
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Outcome(lock), WriteOutcome::kRefused);
  EXPECT_EQ(cluster.Result(lock)->token, log->tokens[0]);
  const uint64_t release = cluster.Write(2, WriteOp::kRelease, "me", "b");
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Outcome(release), WriteOutcome::kDone);
  EXPECT_EQ(cluster.Holding("b", "me"), 0u);
}

TEST(TxnNodes, AKeyHeldByAnotherOwnerIsReadWithoutAnAccept) {
  TxnCluster cluster;
  const uint64_t lock = cluster.Write(1, WriteOp::kLock, "other", "a");
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Outcome(lock), WriteOutcome::kDone);
  ASSERT_EQ(cluster.Holding("a", "other"), 3u);

  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(2, {"a"}, AcquireAll(log, "me", 900));
  // Its own promise and one peer's make the majority; they agree.
  cluster.Deliver([](const Message& m) { return m.to != 0 && m.from != 0; });
  ASSERT_EQ(cluster.Outcome(txn), WriteOutcome::kDone);
  EXPECT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote);
  EXPECT_EQ(log->last_view[0].owner, "other");
  EXPECT_EQ(log->last_view[0].token, cluster.Result(lock)->token);
  EXPECT_TRUE(std::none_of(cluster.sent().begin(), cluster.sent().end(), IsTxnAccept))
      << "a read a majority agreed on is answered after phase 1";
  EXPECT_EQ(cluster.node(2).txn_coordinator().stats().read_only, 1u);
  cluster.DeliverAll();
  EXPECT_EQ(cluster.ResultsFor(txn), 1u);
  EXPECT_EQ(cluster.Holding("a", "other"), 3u);
}

TEST(TxnNodes, APeekingTxnDoesNotPreemptTheHoldersRelease) {
  TxnCluster cluster;
  const uint64_t lock = cluster.Write(1, WriteOp::kLock, "holder", "a");
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Outcome(lock), WriteOutcome::kDone);
  // The holder's RELEASE has its promises; then a try-lock script peeks.
  const uint64_t release = cluster.Write(1, WriteOp::kRelease, "holder", "a");
  cluster.Deliver([](const Message& m) { return std::holds_alternative<Prepare>(m.body); });
  auto log = std::make_shared<BodyLog>();
  TxnRequest request;
  request.request_id = 1000;
  request.keys = {"a"};
  request.body = AcquireAll(log, "me", 900);
  request.peek_first = true;
  cluster.node(2).SubmitTxn(std::move(request), cluster.now());
  cluster.Collect(2);
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Outcome(release), WriteOutcome::kDone) << "not pre-empted by the script";
  ASSERT_TRUE(cluster.Result(1000).has_value());
  EXPECT_EQ(cluster.Outcome(1000), WriteOutcome::kDone);
  // Either it read the lease (and took nothing) or, had the release landed
  // first, it ran the full round and took the key: one holder either way.
  if (log->wrote) {
    EXPECT_GE(cluster.Holding("a", "me"), 2u);
  } else {
    EXPECT_EQ(log->last_view[0].owner, "holder");
  }
  EXPECT_EQ(cluster.Holding("a", "holder"), 0u);
}

TEST(TxnNodes, AReadOfAGrantOnAMinorityIsWrittenBack) {
  TxnCluster cluster;
  // A LOCK whose commit so far reached only its own member.
  const uint64_t lock = cluster.Write(0, WriteOp::kLock, "first", "a");
  cluster.Deliver([](const Message& m) { return !std::holds_alternative<Accept>(m.body); });
  cluster.Drop([](const Message& m) { return std::holds_alternative<Accept>(m.body); });
  ASSERT_FALSE(cluster.Result(lock).has_value());
  ASSERT_EQ(cluster.Holding("a", "first"), 1u);
  // A txn through member 1 reads members 0 and 1: they disagree.
  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(1, {"a"}, ReadOnly(log));
  cluster.Drop([](const Message& m) { return m.to == 2; });
  cluster.DeliverAll();
  ASSERT_EQ(log->runs, 1);
  ASSERT_TRUE(log->last_view[0].held) << "the highest accepted register";
  EXPECT_EQ(log->last_view[0].owner, "first");
  std::vector<Accept> write_backs;
  for (const Message& m : cluster.sent()) {
    if (IsTxnAccept(m)) write_backs.push_back(std::get<Accept>(m.body));
  }
  ASSERT_EQ(write_backs.size(), 2u) << "to both peers (its own is delivered in place)";
  EXPECT_EQ(write_backs[0].owner, "first");
  EXPECT_TRUE(write_backs[0].held);
  EXPECT_EQ(cluster.Outcome(txn), WriteOutcome::kDone);
  EXPECT_EQ(cluster.node(1).txn_coordinator().stats().written_back, 1u);
  // What the txn read is now chosen: a majority holds it.
  EXPECT_GE(cluster.Holding("a", "first"), 2u);
  const uint64_t rival = cluster.Write(2, WriteOp::kLock, "rival", "a");
  cluster.DeliverAll();
  EXPECT_EQ(cluster.Outcome(rival), WriteOutcome::kRefused);
}

TEST(TxnNodes, PreemptedWhileReadingRetriesAndTheBodyRunsOnTheStateThatWon) {
  TxnCluster cluster;
  // A LOCK through member 2 (ballot 1.2) has member 1's promise...
  const uint64_t lock = cluster.Write(2, WriteOp::kLock, "rival", "a");
  cluster.Deliver([](const Message& m) { return IsPrepare(m) && m.to == 1; });
  // ...when a txn through member 0 (ballot 1.0) asks: 1 and 2 refuse it.
  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(0, {"a", "b"}, AcquireAll(log, "me", 900));
  cluster.Deliver([](const Message& m) { return IsTxnMessage(m) && m.to != 0 && IsPrepare(m); });
  cluster.Deliver([](const Message& m) {
    return IsTxnMessage(m) && m.to == 0 && std::holds_alternative<Promise>(m.body) &&
           std::get<Promise>(m.body).vote == Vote::kNo;
  });
  EXPECT_EQ(cluster.node(0).txn_coordinator().stats().retried, 1u);
  EXPECT_EQ(log->runs, 0);
  // The LOCK completes first (its commit to member 0 may be refused: the
  // retry may have promised a higher ballot there; a majority suffices).
  cluster.Deliver([](const Message& m) { return !IsTxnMessage(m); });
  ASSERT_EQ(cluster.Outcome(lock), WriteOutcome::kDone);
  // Then the retry (at once, or after its backoff) reads the new state.
  for (int i = 0; i < 10 && !cluster.Result(txn); ++i) {
    cluster.DeliverAll();
    cluster.Advance(10);
  }
  ASSERT_EQ(cluster.Outcome(txn), WriteOutcome::kDone);
  EXPECT_GE(cluster.node(0).txn_coordinator().stats().started, 2u);
  EXPECT_EQ(log->runs, 1);
  EXPECT_FALSE(log->wrote);
  EXPECT_EQ(log->last_view[0].owner, "rival");
  EXPECT_EQ(cluster.Holding("a", "me"), 0u);
  EXPECT_GE(cluster.Holding("a", "rival"), 2u);
}

TEST(TxnNodes, QuarantinedMajorityAnswersTryAgain) {
  TxnCluster cluster;
  cluster.CrashAndRestart(1);
  cluster.CrashAndRestart(2);
  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(0, {"a", "b"}, AcquireAll(log, "me", 900));
  cluster.DeliverAll();
  ASSERT_TRUE(cluster.Result(txn).has_value());
  EXPECT_EQ(cluster.Outcome(txn), WriteOutcome::kTryAgain);
  EXPECT_NE(cluster.Result(txn)->detail.find("quarantine"), std::string::npos)
      << cluster.Result(txn)->detail;
  EXPECT_EQ(log->runs, 0);
}

TEST(TxnNodes, NoAnswerFromPeersTimesOutWithNoQuorum) {
  TxnCluster cluster;
  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(0, {"a"}, AcquireAll(log, "me", 900));
  cluster.Drop([](const Message& m) { return m.to != 0; });
  cluster.Advance(99);
  EXPECT_FALSE(cluster.Result(txn).has_value());
  EXPECT_EQ(cluster.node(0).NextWakeMs(), cluster.now().mono_ms + 1);
  cluster.Advance(1);
  ASSERT_TRUE(cluster.Result(txn).has_value());
  EXPECT_EQ(cluster.Outcome(txn), WriteOutcome::kNoQuorum);
  EXPECT_EQ(cluster.Result(txn)->detail, "1 of 3 members answered, 1 agreed; a majority is 2");
}

TEST(TxnNodes, DuplicatedAndLateRepliesChangeNothing) {
  TxnCluster cluster;
  auto log = std::make_shared<BodyLog>();
  const uint64_t txn = cluster.Txn(0, {"a", "b"}, AcquireAll(log, "me", 900));
  // Every message twice. (Not reordered: a duplicated prepare is answered
  // no the second time, and that no overtaking the yes would pre-empt the
  // txn by its own ballot; the single-key round behaves the same.)
  for (int round = 0; round < 6; ++round) {
    std::vector<Message> batch = cluster.in_flight();
    cluster.in_flight().clear();
    for (const Message& m : batch) {
      cluster.DeliverOne(m);
      cluster.DeliverOne(m);
    }
  }
  ASSERT_EQ(cluster.Outcome(txn), WriteOutcome::kDone);
  EXPECT_EQ(cluster.ResultsFor(txn), 1u);
  EXPECT_EQ(log->runs, 1);
  EXPECT_GT(cluster.node(0).txn_coordinator().stats().stale_replies, 0u);
  EXPECT_EQ(cluster.Holding("a", "me", log->tokens[0]), 3u);
  // Replaying every reply the txn ever got answers nothing more.
  for (const Message& m : cluster.sent()) {
    if (m.to == 0 && (std::holds_alternative<Promise>(m.body) || std::holds_alternative<Accepted>(m.body))) {
      cluster.DeliverOne(m);
    }
  }
  EXPECT_EQ(cluster.ResultsFor(txn), 1u);
  EXPECT_EQ(log->runs, 1);
}

// A txn and a LOCK on the same key, both wanting it free, under random
// delivery, loss, duplication and time passing: never both granted.
TEST(TxnNodes, TxnAndLockOnOneKeyNeverBothGrant) {
  int txn_won = 0, lock_won = 0;
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    std::mt19937 rng(seed);
    const auto chance = [&rng](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
    TxnCluster cluster;
    auto log = std::make_shared<BodyLog>();
    const size_t txn_via = seed % 3;
    const size_t lock_via = (seed / 3) % 3;
    const bool two_keys = seed % 2 == 0;
    std::vector<std::string> keys = two_keys ? std::vector<std::string>{"k", "j"}
                                             : std::vector<std::string>{"k"};
    if (two_keys && seed % 4 == 0) std::swap(keys[0], keys[1]);
    uint64_t txn = 0, lock = 0;
    if (chance(0.5)) {
      txn = cluster.Txn(txn_via, keys, AcquireAll(log, "txn", 1000));
      lock = cluster.Write(lock_via, WriteOp::kLock, "lock", "k", 1000);
    } else {
      lock = cluster.Write(lock_via, WriteOp::kLock, "lock", "k", 1000);
      txn = cluster.Txn(txn_via, keys, AcquireAll(log, "txn", 1000));
    }
    // Within 600 ms, well inside both leases (1000 ms, max-lease).
    for (int step = 0; step < 3000 && (!cluster.Result(txn) || !cluster.Result(lock)); ++step) {
      auto& flight = cluster.in_flight();
      if (flight.empty() || chance(0.05)) {
        if (cluster.now().mono_ms >= 1600) break;
        cluster.Advance(std::uniform_int_distribution<int>(1, 30)(rng));
        continue;
      }
      const size_t pick = std::uniform_int_distribution<size_t>(0, flight.size() - 1)(rng);
      const Message message = flight[pick];
      if (!chance(0.05)) flight.erase(flight.begin() + static_cast<long>(pick));  // Else a duplicate later.
      if (chance(0.1)) continue;  // Lost.
      cluster.DeliverOne(message);
    }
    const bool txn_granted = cluster.Outcome(txn) == WriteOutcome::kDone && log->wrote;
    const bool lock_granted = cluster.Outcome(lock) == WriteOutcome::kDone;
    ASSERT_FALSE(txn_granted && lock_granted)
        << "seed " << seed << ": lock token " << cluster.Result(lock)->token;
    EXPECT_LE(cluster.ResultsFor(txn), 1u);
    txn_won += txn_granted;
    lock_won += lock_granted;
    if (txn_granted) {
      const size_t k = keys[0] == "k" ? 0 : 1;
      EXPECT_GE(cluster.Holding("k", "txn", log->tokens[k]), 2u) << seed;
    }
    if (lock_granted) {
      EXPECT_GE(cluster.Holding("k", "lock", cluster.Result(lock)->token), 2u) << seed;
    }
  }
  // Both sides won some: the schedules exercised the race.
  EXPECT_GT(txn_won, 20);
  EXPECT_GT(lock_won, 20);
}

// ------------------------------------------ races found by review
//
// Each of these failed against an earlier txn_coordinator.cc; each says what
// the fix makes true.

// A renewal (same owner, same token) whose ttl is shorter than what the
// lease has left, committed on a minority only (the txn answers NOQUORUM, so
// the holder keeps counting on its earlier deadline), leaves a short copy
// at the highest ballot; a later round chooses it once it has run out and
// grants the key while the holder still holds it. EXTEND never shortens
// (DecideWrite carries the lease's time over); a txn body may, and
// TxnCoordinator::Decide writes what the body said.
TEST(TxnNodes, ShortRenewalOnAMinorityDoesNotEndTheLeaseEarly) {
  TxnCluster cluster;
  const uint64_t lock = cluster.Write(0, WriteOp::kLock, "holder", "k", 900);
  const auto to_2_commit = [](const Message& m) {
    return m.to == 2 && (std::holds_alternative<Accept>(m.body) || std::holds_alternative<Learn>(m.body));
  };
  cluster.Deliver([&](const Message& m) { return !to_2_commit(m); });
  cluster.Drop(to_2_commit);  // Member 2 never hears of the lease.
  ASSERT_EQ(cluster.Outcome(lock), WriteOutcome::kDone);
  const uint64_t token = cluster.Result(lock)->token;
  ASSERT_EQ(cluster.Holding("k", "holder"), 2u);
  // The holder counts on its lease until 1000 + 900 * 0.99 = 1891 ms.

  // It renews through a script, asking for 50 ms; the commit reaches only
  // the script's own member, and the script answers NOQUORUM.
  TxnBody renew = [token](const TxnView& view) {
    std::vector<TxnWrite> writes(1);
    const LeaseView& lease = view.leases[0];
    if (lease.held && lease.owner == "holder" && lease.token == token) {
      writes[0] = {true, true, "holder", token, 50, /*grants=*/true};
    }
    return writes;
  };
  const uint64_t txn = cluster.Txn(2, {"k"}, renew);
  cluster.Deliver([](const Message& m) { return !IsTxnAccept(m); });
  cluster.Drop(IsTxnAccept);
  cluster.Advance(110);
  ASSERT_EQ(cluster.Outcome(txn), WriteOutcome::kNoQuorum);
  ASSERT_LT(cluster.now().mono_ms, 1891) << "the holder still holds the key";

  // Another client's LOCK reads members 1 and 2: member 2's copy, at the
  // highest ballot, has run out.
  const uint64_t intruder = cluster.Write(2, WriteOp::kLock, "intruder", "k", 500);
  cluster.Drop([](const Message& m) { return m.to == 0; });
  cluster.Deliver([](const Message& m) { return m.to != 0; });
  EXPECT_NE(cluster.Outcome(intruder), WriteOutcome::kDone)
      << "granted to another owner at " << cluster.now().mono_ms
      << " ms while the holder's lease runs until 1891 ms";
}

// A key the body only read (a majority agreed, so no accept is sent for it)
// is not checked again when the txn commits its writes: a write to it at a
// higher ballot after its promise goes unnoticed. With a second key read
// later, the body can see a state that never existed at any instant, and
// act on it. Here: take c only if a and b are both free; a client holds b,
// then takes a (after the txn read a), then releases b (before the txn
// read b, at a lower ballot than the txn's). At every instant a or b was
// held, yet the txn takes c.
TEST(TxnNodes, AKeyOnlyReadIsStillAsReadWhenTheWritesCommit) {
  TxnCluster cluster;
  const auto only = [&cluster](const std::function<bool(const Message&)>& pick) {
    cluster.Deliver(pick);
  };
  // The client holds b (ballot 1.2, through member 2).
  const uint64_t lock_b = cluster.Write(2, WriteOp::kLock, "c1", "b");
  cluster.DeliverAll();
  ASSERT_EQ(cluster.Outcome(lock_b), WriteOutcome::kDone);
  // Member 0's ballots run ahead of member 2's (rounds member 2 never saw).
  for (int i = 0; i < 3; ++i) {
    cluster.Write(0, WriteOp::kLock, "w", "z");
    cluster.Drop([](const Message& m) { return m.to == 2; });
    only([](const Message& m) { return m.to != 2; });
    cluster.Drop([](const Message& m) { return m.to == 2; });
    cluster.Write(0, WriteOp::kRelease, "w", "z");
    cluster.Drop([](const Message& m) { return m.to == 2; });
    only([](const Message& m) { return m.to != 2; });
    cluster.Drop([](const Message& m) { return m.to == 2; });
  }

  // The txn through member 0: "take c if a and b are free". It reads a and
  // c at once (members 0 and 1); its prepares for b are slow.
  auto log = std::make_shared<BodyLog>();
  TxnBody body = [log](const TxnView& view) {
    ++log->runs;
    log->last_view = view.leases;
    std::vector<TxnWrite> writes(3);
    log->wrote = !view.leases[0].held && !view.leases[1].held && !view.leases[2].held;
    if (log->wrote) {
      writes[2] = {true, true, "t", NextToken(view.counter_max, view.wall_ms), 900, /*grants=*/true};
    }
    return writes;
  };
  const uint64_t txn = cluster.Txn(0, {"a", "b", "c"}, body);
  only([](const Message& m) {
    return (IsTxnPrepare(m) && m.to == 1 && KeyOf(m) != "b") ||
           (IsTxnMessage(m) && std::holds_alternative<Promise>(m.body) && m.to == 0);
  });
  ASSERT_EQ(log->runs, 0);

  // The client takes a through member 1 (a ballot above the txn's).
  const uint64_t lock_a = cluster.Write(1, WriteOp::kLock, "c1", "a");
  cluster.Drop([](const Message& m) { return !IsTxnMessage(m) && m.to == 2; });
  only([](const Message& m) { return !IsTxnMessage(m) && m.to != 2; });
  cluster.Drop([](const Message& m) { return !IsTxnMessage(m) && m.to == 2; });
  ASSERT_EQ(cluster.Outcome(lock_a), WriteOutcome::kDone);
  // Then releases b through member 2 (a ballot below the txn's).
  const uint64_t release_b = cluster.Write(2, WriteOp::kRelease, "c1", "b");
  cluster.Drop([](const Message& m) { return !IsTxnMessage(m) && m.to == 0; });
  only([](const Message& m) { return !IsTxnMessage(m) && m.to != 0; });
  ASSERT_EQ(cluster.Outcome(release_b), WriteOutcome::kDone);
  ASSERT_GE(cluster.Holding("a", "c1"), 2u) << "a is held from before b was released";

  // Now the txn's prepares for b arrive: b is free.
  for (int i = 0; i < 10 && !cluster.Result(txn); ++i) {
    cluster.DeliverAll();
    cluster.Advance(10);
  }
  ASSERT_TRUE(cluster.Result(txn).has_value());
  EXPECT_FALSE(cluster.Outcome(txn) == WriteOutcome::kDone && log->wrote)
      << "the txn took c on a snapshot (a free, b free) that never existed; a was read free "
         "before the client took it, and is held now";
}

// --------------------------------------------------------- a member alone

TEST(TxnAlone, CommitsWithinTheCall) {
  NodeOptions options;
  options.max_lease_ms = 10'000;
  Node node(options);
  Time now{1000, kWallMs};
  std::vector<WriteResult> results;
  std::vector<Message> outbox;
  // An earlier holder, through the single-key path.
  WriteRequest lock;
  lock.request_id = 1;
  lock.key = "a";
  lock.owner = "old";
  lock.ttl_ms = 100;
  node.Submit(lock, now);
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  const uint64_t old_token = results[0].token;
  now.mono_ms += 200;

  auto log = std::make_shared<BodyLog>();
  TxnRequest request;
  request.request_id = 2;
  request.keys = {"a", "b"};
  request.body = AcquireAll(log, "me", 1000);
  node.SubmitTxn(std::move(request), now);
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u) << "answered within the call";
  EXPECT_EQ(results[0].request_id, 2u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  node.TakeOutbox(&outbox);
  EXPECT_TRUE(outbox.empty());
  ASSERT_TRUE(log->wrote);
  EXPECT_GT(log->tokens[0], old_token);
  const Register* a = node.table().FindHeld("a", now.mono_ms);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->owner, "me");
  EXPECT_EQ(a->token, log->tokens[0]);
  EXPECT_EQ(a->RemainingMs(now.mono_ms), 1000);
  EXPECT_EQ(node.txn_coordinator().in_flight(), 0u);

  // A single-key LOCK by another owner is refused; the txn's own release
  // (a read-only-then-write body) frees both.
  lock.request_id = 3;
  lock.owner = "other";
  node.Submit(lock, now);
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kRefused);
  TxnRequest release;
  release.request_id = 4;
  release.keys = {"a", "b"};
  release.body = [](const TxnView& view) {
    std::vector<TxnWrite> writes(view.keys.size());
    for (size_t i = 0; i < writes.size(); ++i) writes[i].write = view.leases[i].owner == "me";
    return writes;
  };
  node.SubmitTxn(std::move(release), now);
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kDone);
  EXPECT_EQ(node.table().FindHeld("a", now.mono_ms), nullptr);
  EXPECT_EQ(node.table().FindHeld("b", now.mono_ms), nullptr);
}

TEST(TxnAlone, InQuarantineAnswersTryAgainWithinTheCall) {
  NodeOptions options;
  options.max_lease_ms = 10'000;
  Node node(options);
  const Time now{1000, kWallMs};
  node.StartQuarantine(now);
  auto log = std::make_shared<BodyLog>();
  TxnRequest request;
  request.request_id = 5;
  request.keys = {"a"};
  request.body = AcquireAll(log, "me", 1000);
  node.SubmitTxn(std::move(request), now);
  std::vector<WriteResult> results;
  node.TakeResults(&results);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, WriteOutcome::kTryAgain);
  EXPECT_EQ(log->runs, 0);
}

}  // namespace
}  // namespace lockerd::cluster
