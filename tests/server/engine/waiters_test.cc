// The per-key waiter queues alone (server/engine/waiters.h), without the
// engine: who a release wakes (every observer and the first acquirer, first
// come first served), the per-key bound, a disconnected client's wait
// forgotten with its timeout, timeouts in (deadline, client id) order, and
// a woken acquirer that lost the race put back at the head.
//
// Each case is a script of steps on one WaiterQueue; each step says what it
// must answer (the clients woken, timed out or removed, or whether an add
// was accepted).
#include "server/engine/waiters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace lockerd::server {
namespace {

enum class Op {
  kAcquire,       // LOCK ... WAIT from `client` on `key`, until `ms` (a deadline).
  kObserve,       // WAIT from `client` on `key`, until `ms`.
  kRequeueFront,  // A woken acquirer that lost the race, back at the head (AddFront).
  kDisconnect,    // `client` goes away (Remove): `expect` is {client} if it was waiting.
  kRelease,       // `key` is freed: `expect` is who wakes (in any order).
  kClock,         // The clock reads `ms`: `expect` is who timed out, in order.
};

struct Step {
  Op op;
  uint64_t client = 0;
  std::string key = "k";
  int64_t ms = kNoDeadline;
  std::vector<uint64_t> expect = {};
  bool refused = false;  // kAcquire, kObserve: the key is at its bound.
};

struct Case {
  const char* name;
  size_t per_key_max;
  std::vector<Step> steps;
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name; }

Waiter MakeWaiter(const Step& step) {
  Waiter waiter;
  waiter.client_id = step.client;
  waiter.key = step.key;
  waiter.kind = step.op == Op::kObserve ? WaiterKind::kObserve : WaiterKind::kAcquire;
  waiter.deadline_ms = step.ms;
  if (waiter.kind == WaiterKind::kAcquire) {
    waiter.request.op = cluster::WriteOp::kLock;
    waiter.request.key = step.key;
    waiter.request.owner = "owner-" + std::to_string(step.client);
  }
  return waiter;
}

std::vector<uint64_t> Ids(const std::vector<Waiter>& waiters) {
  std::vector<uint64_t> ids;
  for (const Waiter& waiter : waiters) ids.push_back(waiter.client_id);
  return ids;
}

std::vector<uint64_t> Sorted(std::vector<uint64_t> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

const Case kCases[] = {
    {"AcquirersAreServedFirstComeFirstServed", 100,
     {{Op::kAcquire, 1}, {Op::kAcquire, 2}, {Op::kAcquire, 3},
      {.op = Op::kRelease, .expect = {1}},
      {.op = Op::kRelease, .expect = {2}},
      {.op = Op::kRelease, .expect = {3}},
      {.op = Op::kRelease, .expect = {}}}},
    {"AReleaseWakesEveryObserverAndOnlyTheFirstAcquirer", 100,
     {{Op::kObserve, 1}, {Op::kAcquire, 2}, {Op::kObserve, 3}, {Op::kAcquire, 4},
      {.op = Op::kRelease, .expect = {1, 2, 3}},
      {.op = Op::kRelease, .expect = {4}}}},
    {"AReleaseWakesOnlyItsOwnKey", 100,
     {{Op::kAcquire, 1, "a"}, {Op::kObserve, 2, "b"},
      {.op = Op::kRelease, .key = "c", .expect = {}},
      {.op = Op::kRelease, .key = "b", .expect = {2}},
      {.op = Op::kRelease, .key = "b", .expect = {}},
      {.op = Op::kRelease, .key = "a", .expect = {1}}}},
    {"TheBoundIsPerKeyAndCountsBothKinds", 2,
     {{Op::kAcquire, 1, "a"}, {Op::kObserve, 2, "a"},
      {.op = Op::kAcquire, .client = 3, .key = "a", .refused = true},
      {.op = Op::kObserve, .client = 3, .key = "a", .refused = true},
      {Op::kAcquire, 3, "b"},
      {.op = Op::kRelease, .key = "a", .expect = {1, 2}},
      {.op = Op::kRelease, .key = "b", .expect = {3}}}},
    {"AFreedPlaceCanBeTakenAgain", 2,
     {{Op::kAcquire, 1}, {Op::kAcquire, 2},
      {.op = Op::kAcquire, .client = 3, .refused = true},
      {.op = Op::kDisconnect, .client = 1, .expect = {1}},
      {Op::kAcquire, 3},
      {.op = Op::kRelease, .expect = {2}},
      {.op = Op::kRelease, .expect = {3}}}},
    {"ADisconnectedWaiterIsNeverWoken", 100,
     {{Op::kAcquire, 1}, {Op::kAcquire, 2}, {Op::kObserve, 3}, {Op::kAcquire, 4},
      {.op = Op::kDisconnect, .client = 2, .expect = {2}},
      {.op = Op::kDisconnect, .client = 3, .expect = {3}},
      {.op = Op::kRelease, .expect = {1}},
      {.op = Op::kRelease, .expect = {4}},
      {.op = Op::kRelease, .expect = {}}}},
    {"DisconnectingAClientThatDoesNotWaitChangesNothing", 100,
     {{Op::kAcquire, 1},
      {.op = Op::kDisconnect, .client = 9, .expect = {}},
      {.op = Op::kDisconnect, .client = 1, .expect = {1}},
      {.op = Op::kDisconnect, .client = 1, .expect = {}},
      {.op = Op::kRelease, .expect = {}}}},
    {"ADisconnectedWaiterDoesNotTimeOut", 100,
     {{.op = Op::kAcquire, .client = 1, .ms = 100},
      {.op = Op::kDisconnect, .client = 1, .expect = {1}},
      {.op = Op::kClock, .ms = 1000, .expect = {}}}},
    {"TimeoutsComeInDeadlineThenClientOrder", 100,
     {{.op = Op::kAcquire, .client = 5, .key = "a", .ms = 300},
      {.op = Op::kObserve, .client = 4, .key = "b", .ms = 100},
      {.op = Op::kAcquire, .client = 2, .key = "a", .ms = 100},
      {.op = Op::kAcquire, .client = 3, .key = "c"},  // No deadline: waits forever.
      {.op = Op::kClock, .ms = 99, .expect = {}},
      {.op = Op::kClock, .ms = 100, .expect = {2, 4}},  // At the deadline is past it.
      {.op = Op::kClock, .ms = 299, .expect = {}},
      {.op = Op::kClock, .ms = 1'000'000, .expect = {5}},
      {.op = Op::kRelease, .key = "c", .expect = {3}}}},
    {"ATimedOutAcquirerLetsTheNextOneWakeOnRelease", 100,
     {{.op = Op::kAcquire, .client = 1, .ms = 100}, {Op::kAcquire, 2},
      {.op = Op::kClock, .ms = 150, .expect = {1}},
      {.op = Op::kRelease, .expect = {2}}}},
    {"AWokenAcquirerThatLostTheRaceKeepsTheHead", 100,
     {{Op::kAcquire, 1}, {Op::kAcquire, 2},
      {.op = Op::kRelease, .expect = {1}},
      {Op::kAcquire, 3},
      {Op::kRequeueFront, 1},
      {.op = Op::kRelease, .expect = {1}},
      {.op = Op::kRelease, .expect = {2}},
      {.op = Op::kRelease, .expect = {3}}}},
    {"ARequeuedAcquirerIsNotTurnedAwayByTheBound", 1,
     {{Op::kAcquire, 1},
      {.op = Op::kRelease, .expect = {1}},
      {Op::kAcquire, 2},
      {Op::kRequeueFront, 1},
      {.op = Op::kRelease, .expect = {1}},
      {.op = Op::kRelease, .expect = {2}}}},
    {"ARequeuedAcquirerStillTimesOut", 100,
     {{.op = Op::kAcquire, .client = 1, .ms = 500},
      {.op = Op::kRelease, .expect = {1}},
      {.op = Op::kRequeueFront, .client = 1, .ms = 500},
      {.op = Op::kClock, .ms = 500, .expect = {1}},
      {.op = Op::kRelease, .expect = {}}}},
};

class WaiterQueueRules : public ::testing::TestWithParam<Case> {};

TEST_P(WaiterQueueRules, EachStepAnswersAsExpected) {
  const Case& c = GetParam();
  WaiterQueue queue;
  size_t waiting = 0;
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    SCOPED_TRACE("step " + std::to_string(i + 1));
    switch (step.op) {
      case Op::kAcquire:
      case Op::kObserve: {
        const bool added = queue.Add(MakeWaiter(step), c.per_key_max);
        EXPECT_EQ(added, !step.refused);
        if (added) ++waiting;
        break;
      }
      case Op::kRequeueFront:
        queue.AddFront(MakeWaiter(step));
        ++waiting;
        break;
      case Op::kDisconnect: {
        const std::optional<Waiter> removed = queue.Remove(step.client);
        EXPECT_EQ(removed ? std::vector<uint64_t>{removed->client_id} : std::vector<uint64_t>{},
                  step.expect);
        if (removed) --waiting;
        break;
      }
      case Op::kRelease: {
        const std::vector<Waiter> woken = queue.TakeWoken(step.key);
        EXPECT_EQ(Sorted(Ids(woken)), Sorted(step.expect));
        for (const Waiter& waiter : woken) EXPECT_EQ(waiter.key, step.key);
        waiting -= woken.size();
        break;
      }
      case Op::kClock: {
        const std::vector<Waiter> timed_out = queue.TakeTimedOut(step.ms);
        EXPECT_EQ(Ids(timed_out), step.expect);
        waiting -= timed_out.size();
        break;
      }
    }
    EXPECT_EQ(queue.size(), waiting);
  }
}

INSTANTIATE_TEST_SUITE_P(Waiters, WaiterQueueRules, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& c) { return c.param.name; });

// A woken acquirer carries the LOCK it asked for, so the engine runs it
// with that client's owner and ttl, not another's.
TEST(WaiterQueue, AWokenAcquirerCarriesItsOwnLock) {
  WaiterQueue queue;
  Waiter waiter = MakeWaiter({Op::kAcquire, 7, "jobs"});
  waiter.request.ttl_ms = 5000;
  ASSERT_TRUE(queue.Add(waiter, 10));
  const std::vector<Waiter> woken = queue.TakeWoken("jobs");
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].kind, WaiterKind::kAcquire);
  EXPECT_EQ(woken[0].request.owner, "owner-7");
  EXPECT_EQ(woken[0].request.key, "jobs");
  EXPECT_EQ(woken[0].request.ttl_ms, 5000);
}

// A newcomer's LOCK must queue behind a waiting acquirer rather than take
// a freed key first; observers alone do not hold it back.
TEST(WaiterQueue, OnlyAcquirersMakeANewcomerQueue) {
  WaiterQueue queue;
  ASSERT_TRUE(queue.Add(MakeWaiter({Op::kObserve, 1}), 10));
  EXPECT_TRUE(queue.HasWaiters("k"));
  EXPECT_FALSE(queue.HasAcquirers("k"));
  ASSERT_TRUE(queue.Add(MakeWaiter({Op::kAcquire, 2}), 10));
  EXPECT_TRUE(queue.HasAcquirers("k"));
  EXPECT_FALSE(queue.HasAcquirers("other"));
  ASSERT_TRUE(queue.Remove(2));
  EXPECT_FALSE(queue.HasAcquirers("k"));
  ASSERT_TRUE(queue.Remove(1));
  EXPECT_FALSE(queue.HasWaiters("k"));
}

// The loop sleeps until the nearest deadline; a wait without one, or one
// that ended, never sets it.
TEST(WaiterQueue, NextDeadlineIsTheNearestOfThoseStillWaiting) {
  WaiterQueue queue;
  EXPECT_EQ(queue.NextDeadlineMs(), std::nullopt);
  ASSERT_TRUE(queue.Add(MakeWaiter({Op::kAcquire, 1}), 10));
  EXPECT_EQ(queue.NextDeadlineMs(), std::nullopt) << "a wait without timeout";
  ASSERT_TRUE(queue.Add(MakeWaiter({.op = Op::kObserve, .client = 2, .ms = 300}), 10));
  ASSERT_TRUE(queue.Add(MakeWaiter({.op = Op::kAcquire, .client = 3, .key = "b", .ms = 200}), 10));
  EXPECT_EQ(queue.NextDeadlineMs(), 200);
  ASSERT_TRUE(queue.Remove(3));
  EXPECT_EQ(queue.NextDeadlineMs(), 300);
  EXPECT_EQ(Sorted(Ids(queue.TakeWoken("k"))), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(queue.NextDeadlineMs(), std::nullopt);
}

}  // namespace
}  // namespace lockerd::server
