// The idle list behind the `timeout` setting: ordered by last progress,
// O(1) touch and removal, and the head is the only entry that can expire.
#include "server/net/idle_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace lockerd::server {
namespace {

std::vector<void*> Order(const IdleList& list) {
  std::vector<void*> owners;
  for (IdleEntry* entry = list.head(); entry != nullptr; entry = entry->next) {
    owners.push_back(entry->owner);
  }
  return owners;
}

TEST(IdleList, KeepsEntriesInOrderOfLastProgress) {
  int a_owner = 0, b_owner = 0, c_owner = 0;
  IdleEntry a(&a_owner), b(&b_owner), c(&c_owner);
  IdleList list;
  EXPECT_TRUE(list.empty());
  list.Touch(&a, 100);
  list.Touch(&b, 200);
  list.Touch(&c, 300);
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(Order(list), (std::vector<void*>{&a_owner, &b_owner, &c_owner}));

  list.Touch(&a, 400);  // The head moves to the tail.
  EXPECT_EQ(Order(list), (std::vector<void*>{&b_owner, &c_owner, &a_owner}));
  list.Touch(&c, 500);  // A middle entry moves to the tail.
  EXPECT_EQ(Order(list), (std::vector<void*>{&b_owner, &a_owner, &c_owner}));
  list.Touch(&c, 600);  // The tail stays the tail.
  EXPECT_EQ(Order(list), (std::vector<void*>{&b_owner, &a_owner, &c_owner}));
  EXPECT_EQ(list.size(), 3u);
}

TEST(IdleList, OnlyTheHeadExpiresAndOnlyOnceItsTimeoutHasPassed) {
  int a_owner = 0, b_owner = 0;
  IdleEntry a(&a_owner), b(&b_owner);
  IdleList list;
  EXPECT_EQ(list.Expired(1'000'000, 1000), nullptr) << "an empty list has nothing to expire";
  list.Touch(&a, 1000);
  list.Touch(&b, 1500);
  EXPECT_EQ(list.Expired(1999, 1000), nullptr);
  EXPECT_EQ(list.Expired(2000, 1000), &a);
  list.Remove(&a);
  EXPECT_EQ(list.Expired(2000, 1000), nullptr);
  EXPECT_EQ(list.Expired(2500, 1000), &b);
  list.Touch(&b, 2500);  // Progress restarts its clock.
  EXPECT_EQ(list.Expired(3499, 1000), nullptr);
  EXPECT_EQ(list.Expired(3500, 1000), &b);
}

TEST(IdleList, RemoveUnlinksFromAnyPositionAndIsIdempotent) {
  int owners[4] = {};
  IdleEntry e0(&owners[0]), e1(&owners[1]), e2(&owners[2]), e3(&owners[3]);
  IdleList list;
  for (IdleEntry* entry : {&e0, &e1, &e2, &e3}) list.Touch(entry, 10);
  list.Remove(&e1);  // Middle.
  EXPECT_EQ(Order(list), (std::vector<void*>{&owners[0], &owners[2], &owners[3]}));
  list.Remove(&e3);  // Tail.
  EXPECT_EQ(Order(list), (std::vector<void*>{&owners[0], &owners[2]}));
  list.Remove(&e0);  // Head.
  EXPECT_EQ(Order(list), (std::vector<void*>{&owners[2]}));
  list.Remove(&e0);  // Not linked any more: nothing happens.
  EXPECT_EQ(list.size(), 1u);
  EXPECT_FALSE(e0.linked);
  list.Remove(&e2);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
  list.Touch(&e1, 20);  // A removed entry can be linked again.
  EXPECT_EQ(Order(list), (std::vector<void*>{&owners[1]}));
}

}  // namespace
}  // namespace lockerd::server
