// The lease table with an injected clock: leases end at their deadline, lazy
// and active expiry agree, expiry touches only what is due, ballots never go
// down, and the slot walk is stable for SCAN.
#include "cluster/lease_table.h"

#include <gtest/gtest.h>

#include <set>

namespace lockerd::cluster {
namespace {

constexpr Ballot kB1{1, 0};
constexpr Ballot kB2{2, 0};

TEST(LeaseTable, LeaseIsHeldUntilItsDeadline) {
  LeaseTable table(/*idle_ms=*/0);
  Register& reg = table.FindOrCreate("k", 1000);
  table.Hold(reg, kB1, "me", 7, 1500);
  EXPECT_NE(table.FindHeld("k", 1500), nullptr) << "held through its last millisecond";
  EXPECT_EQ(table.FindHeld("k", 1501), nullptr);
  EXPECT_EQ(table.held_count(), 1u);
  EXPECT_EQ(table.Find("k")->RemainingMs(1200), 300);
  EXPECT_EQ(table.Find("k")->RemainingMs(1500), 0);
}

TEST(LeaseTable, ActiveExpiryFreesOnlyWhatIsDue) {
  LeaseTable table(0);
  for (int i = 0; i < 100; ++i) {
    Register& reg = table.FindOrCreate("k" + std::to_string(i), 0);
    table.Hold(reg, kB1, "o", static_cast<uint64_t>(i + 1), 100 + i);
  }
  EXPECT_EQ(table.NextWakeMs(), 101) << "due once the first deadline has passed";
  EXPECT_FALSE(table.ExpireDue(110, 1000));
  EXPECT_EQ(table.held_count(), 90u);
  EXPECT_EQ(table.expired_count(), 10u);
  EXPECT_EQ(table.registers_count(), 90u) << "a lone member erases freed registers at once";
  EXPECT_EQ(table.NextWakeMs(), 111);
}

TEST(LeaseTable, ARenewedLeaseExpiresAtItsNewDeadline) {
  LeaseTable table(0);
  Register& reg = table.FindOrCreate("k", 0);
  table.Hold(reg, kB1, "o", 1, 100);
  table.Hold(reg, kB1, "o", 1, 300);  // Renewed: the wake of the first stays.
  EXPECT_EQ(table.NextWakeMs(), 101);
  EXPECT_FALSE(table.ExpireDue(101, 10));
  EXPECT_EQ(table.held_count(), 1u) << "still held: renewed since";
  EXPECT_EQ(table.expired_count(), 0u);
  EXPECT_EQ(table.NextWakeMs(), 301) << "moved on to the new deadline";
  EXPECT_FALSE(table.ExpireDue(300, 10));
  EXPECT_EQ(table.held_count(), 1u);
  EXPECT_FALSE(table.ExpireDue(301, 10));
  EXPECT_EQ(table.held_count(), 0u) << "expired at its new deadline";
  EXPECT_EQ(table.expired_count(), 1u);

  // A renewal to a shorter deadline (a new holder's lease) moves the wake up.
  Register& again = table.FindOrCreate("k", 310);
  table.Hold(again, kB1, "o", 2, 900);
  table.Hold(again, kB1, "o", 2, 400);
  EXPECT_EQ(table.NextWakeMs(), 401);
  EXPECT_FALSE(table.ExpireDue(401, 10));
  EXPECT_EQ(table.held_count(), 0u);
  EXPECT_EQ(table.expired_count(), 2u);
}

TEST(LeaseTable, ExpiryRespectsItsBudget) {
  LeaseTable table(0);
  for (int i = 0; i < 50; ++i) {
    Register& reg = table.FindOrCreate("k" + std::to_string(i), 0);
    table.Hold(reg, kB1, "o", 1, 10);
  }
  EXPECT_TRUE(table.ExpireDue(11, 20)) << "more is due after the budget";
  EXPECT_GE(table.held_count(), 30u) << "at most `budget` registers handled per call";
  EXPECT_LT(table.held_count(), 50u);
  while (table.ExpireDue(11, 20)) {
  }
  EXPECT_EQ(table.held_count(), 0u);
  EXPECT_EQ(table.registers_count(), 0u);
}

TEST(LeaseTable, LazyExpiryOnWriteAccess) {
  LeaseTable table(0);
  Register& reg = table.FindOrCreate("k", 0);
  table.Hold(reg, kB1, "me", 1, 10);
  EXPECT_TRUE(table.FindOrCreate("k", 10).held);
  Register& again = table.FindOrCreate("k", 11);
  EXPECT_FALSE(again.held);
  EXPECT_EQ(table.held_count(), 0u);
  EXPECT_EQ(table.expired_count(), 1u);
  EXPECT_EQ(again.accepted, kB1) << "an expiry is not a write";
}

TEST(LeaseTable, ErasedRegistersFoldTheirBallotIntoTheFloor) {
  LeaseTable table(/*idle_ms=*/50);
  Register& reg = table.FindOrCreate("k", 0);
  table.SetPromised(reg, kB2);
  table.Free(reg, kB1, 0);
  EXPECT_FALSE(table.ExpireDue(49, 100));
  EXPECT_EQ(table.registers_count(), 1u) << "kept as a tombstone while idle";
  EXPECT_FALSE(table.ExpireDue(50, 100));
  EXPECT_EQ(table.registers_count(), 0u);
  EXPECT_EQ(table.ballot_floor(), kB2);
  EXPECT_EQ(table.FindOrCreate("other", 60).promised, kB2)
      << "a new register starts at the floor: a member's ballots never go down";
}

TEST(LeaseTable, WatchedKeysReportTheirRelease) {
  LeaseTable table(0);
  table.Watch("a");
  for (const char* key : {"a", "b"}) {
    Register& reg = table.FindOrCreate(key, 0);
    table.Hold(reg, kB1, "o", 1, 100);
  }
  table.Free(table.FindOrCreate("b", 1), kB2, 1);
  EXPECT_TRUE(table.TakeFreedKeys().empty()) << "b is not watched";
  table.ExpireDue(101, 10);
  EXPECT_EQ(table.TakeFreedKeys(), std::vector<std::string>{"a"});
  table.Unwatch("a");
  Register& reg = table.FindOrCreate("a", 200);
  table.Hold(reg, kB2, "o", 2, 300);
  table.Free(reg, Ballot{3, 0}, 250);
  EXPECT_TRUE(table.TakeFreedKeys().empty());
}

TEST(LeaseTable, SlotsDoNotMoveWhenOthersAreErased) {
  LeaseTable table(0);
  for (int i = 0; i < 10; ++i) {
    Register& reg = table.FindOrCreate("k" + std::to_string(i), 0);
    table.Hold(reg, kB1, "o", 1, i % 2 == 0 ? 5 : 100);
  }
  std::vector<std::string> before;
  for (size_t s = 0; s < table.slot_limit(); ++s) {
    if (const CompactString* key = table.KeyAt(s)) before.push_back(key->str());
  }
  table.ExpireDue(6, 100);  // Expire the even keys, and erase them.
  for (size_t s = 0; s < table.slot_limit(); ++s) {
    const CompactString* key = table.KeyAt(s);
    if (s % 2 == 0) {
      EXPECT_EQ(key, nullptr);
    } else {
      ASSERT_NE(key, nullptr);
      EXPECT_EQ(*key, before[s]) << "an odd key kept its slot";
    }
  }
  // Freed slots are reused.
  table.FindOrCreate("new", 7);
  EXPECT_EQ(table.slot_limit(), 10u);
}

}  // namespace
}  // namespace lockerd::cluster

namespace lockerd::cluster {
namespace {

// For the append-only log: a write is a change, an expiry is not (the
// lease's record carries its deadline), an erasure is reported apart.
TEST(LeaseTableChanges, WritesAreChangesExpiriesAreNotErasuresAreReported) {
  LeaseTable table(/*idle_ms=*/100);
  table.TrackChanges(true);
  Register& reg = table.FindOrCreate("k", 0);
  table.SetPromised(reg, {1, 0, 0});
  table.Hold(reg, {1, 0, 0}, "alice", 7, 50);
  EXPECT_EQ(table.TakeChangedSlots().size(), 1u) << "each slot once";
  EXPECT_TRUE(table.TakeChangedSlots().empty());
  table.ExpireDue(60, 10);
  EXPECT_TRUE(table.TakeChangedSlots().empty()) << "an expiry is not a change";
  EXPECT_TRUE(table.TakeErased().empty());
  table.ExpireDue(500, 10);  // The tombstone's end.
  ASSERT_EQ(table.Find("k"), nullptr);
  const std::vector<LeaseTable::Erased> erased = table.TakeErased();
  ASSERT_EQ(erased.size(), 1u);
  EXPECT_EQ(erased[0].key, "k");
  EXPECT_EQ(erased[0].accepted, (Ballot{1, 0, 0}));
}

}  // namespace
}  // namespace lockerd::cluster
