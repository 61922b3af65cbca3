#include "protocol/numbers.h"

#include <gtest/gtest.h>

namespace lockerd::protocol {
namespace {

TEST(ParseInt64, AcceptsWhatRedisAccepts) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("5000"), 5000);
  EXPECT_EQ(ParseInt64("-1"), -1);
  EXPECT_EQ(ParseInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt64("-9223372036854775808"), INT64_MIN);
}

TEST(ParseInt64, RefusesWhatRedisRefuses) {
  for (const char* text : {"", "-", "+1", " 1", "1 ", "01", "-0", "1.5", "1e3", "abc",
                           "9223372036854775808", "-9223372036854775809", "99999999999999999999",
                           "18446744073709551616", "-18446744073709551615", "18446744073709551617"}) {
    EXPECT_EQ(ParseInt64(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace lockerd::protocol
