#include "cluster/compact_string.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace lockerd::cluster {
namespace {

TEST(CompactString, HoldsUpTo23BytesInlineAndLongerOnTheHeap) {
  for (size_t size : {0, 1, 15, 16, 22, 23, 24, 64, 1000}) {
    const std::string text(size, 'x');
    CompactString s(text);
    EXPECT_EQ(s.size(), size);
    EXPECT_EQ(s, text);
    EXPECT_EQ(s.on_heap(), size > CompactString::kInlineMax) << size;
  }
}

TEST(CompactString, KeepsEveryByteIncludingZeros) {
  const std::string binary("a\0b\xff\0", 5);
  EXPECT_EQ(CompactString(binary).view(), binary);
  const std::string long_binary = binary + std::string(30, '\0') + binary;
  EXPECT_EQ(CompactString(long_binary).view(), long_binary);
}

TEST(CompactString, ReassignsBetweenInlineAndHeap) {
  CompactString s("short");
  s.assign(std::string(40, 'h'));
  EXPECT_EQ(s, std::string(40, 'h'));
  s.assign("back");
  EXPECT_EQ(s, "back");
  EXPECT_FALSE(s.on_heap());
  s.clear();
  EXPECT_TRUE(s.empty());
}

TEST(CompactString, AssignsFromItsOwnBytes) {
  CompactString heap(std::string(30, 'a') + "tail");
  heap.assign(heap.view().substr(26));  // A view into its own heap block.
  EXPECT_EQ(heap, "aaaatail");
  CompactString inline_text("0123456789");
  inline_text.assign(inline_text.view().substr(5));
  EXPECT_EQ(inline_text, "56789");
  CompactString long_again(std::string(40, 'z'));
  long_again.assign(long_again.view().substr(2));
  EXPECT_EQ(long_again, std::string(38, 'z'));
}

TEST(CompactString, CopiesAndMovesOwnTheirBytes) {
  CompactString a(std::string(50, 'q'));
  CompactString b = a;
  EXPECT_EQ(b, a);
  EXPECT_NE(b.data(), a.data());
  CompactString c = std::move(a);
  EXPECT_EQ(c, std::string(50, 'q'));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty.
  b = c;
  c = std::move(b);
  EXPECT_EQ(c, std::string(50, 'q'));
  const CompactString& same = c;
  c = same;  // Self-assignment keeps the text.
  EXPECT_EQ(c, std::string(50, 'q'));
}

}  // namespace
}  // namespace lockerd::cluster
