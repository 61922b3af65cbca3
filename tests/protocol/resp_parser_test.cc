// The parser must give the same commands however the input is split, and
// refuse bad input with Redis's error texts.
#include "protocol/resp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lockerd::protocol {
namespace {

using Commands = std::vector<std::vector<std::string>>;

struct Outcome {
  Commands commands;
  std::string error;  // Empty unless the stream failed.
};

// Feeds `chunks` in order, collecting every command, as a connection would.
Outcome FeedChunks(const std::vector<std::string>& chunks, ParserLimits limits = {}) {
  RespParser parser(limits);
  Outcome outcome;
  for (const std::string& chunk : chunks) {
    std::string_view input = chunk;
    while (!input.empty()) {
      const ParseResult result = parser.Feed(input);
      EXPECT_LE(result.consumed_bytes, input.size());
      input.remove_prefix(result.consumed_bytes);
      if (result.status == ParseStatus::kComplete) {
        outcome.commands.emplace_back(parser.command().begin(), parser.command().end());
      } else if (result.status == ParseStatus::kError) {
        outcome.error = result.error;
        return outcome;
      } else {
        EXPECT_TRUE(input.empty()) << "kNeedMore must consume all input";
      }
    }
  }
  return outcome;
}

Outcome FeedWhole(const std::string& input, ParserLimits limits = {}) {
  return FeedChunks({input}, limits);
}

// The same input whole, byte by byte, and split in two at every offset.
void ExpectSameEverySplit(const std::string& input, const Commands& expected) {
  EXPECT_EQ(FeedWhole(input).commands, expected);
  std::vector<std::string> bytes;
  for (const char c : input) bytes.emplace_back(1, c);
  EXPECT_EQ(FeedChunks(bytes).commands, expected) << "byte by byte";
  for (size_t split = 1; split < input.size(); ++split) {
    const Outcome outcome = FeedChunks({input.substr(0, split), input.substr(split)});
    EXPECT_EQ(outcome.commands, expected) << "split at " << split;
    EXPECT_EQ(outcome.error, "");
  }
}

TEST(RespParser, ArrayOfBulks) {
  ExpectSameEverySplit("*3\r\n$4\r\nLOCK\r\n$1\r\nk\r\n$0\r\n\r\n", {{"LOCK", "k", ""}});
}

TEST(RespParser, PipelinedCommandsEverySplit) {
  const std::string binary("a\r\nb\0c", 6);
  const std::string input =
      "*1\r\n$4\r\nPING\r\n"
      "*4\r\n$4\r\nLOCK\r\n$3\r\nkey\r\n$5\r\nowner\r\n$4\r\n5000\r\n"
      "PING inline\r\n"
      "*2\r\n$4\r\nECHO\r\n$6\r\n" + binary + "\r\n";
  ExpectSameEverySplit(input, {{"PING"}, {"LOCK", "key", "owner", "5000"}, {"PING", "inline"},
                               {"ECHO", binary}});
}

TEST(RespParser, InlineCommandsAsTelnetSends) {
  ExpectSameEverySplit("LOCK k me 5000\r\nPING\n", {{"LOCK", "k", "me", "5000"}, {"PING"}});
}

TEST(RespParser, InlineQuotesFollowRedis) {
  EXPECT_EQ(FeedWhole("SET \"a b\" 'c d' \"\\x41\\n\"\r\n").commands,
            (Commands{{"SET", "a b", "c d", "A\n"}}));
  EXPECT_EQ(FeedWhole("ECHO 'it\\'s'\r\n").commands, (Commands{{"ECHO", "it's"}}));
  EXPECT_EQ(FeedWhole("ECHO\tcl\xc3\xa9\r\n").commands, (Commands{{"ECHO", "cl\xc3\xa9"}}))
      << "tabs and UTF-8 are not junk";
  EXPECT_EQ(FeedWhole("ECHO \"unterminated\r\n").error,
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(FeedWhole("ECHO \"a\"b\r\n").error, "Protocol error: unbalanced quotes in request");
}

TEST(RespParser, EmptyLinesAndEmptyArraysAreSkipped) {
  EXPECT_EQ(FeedWhole("\r\n\r\n*0\r\n*-1\r\nPING\r\n").commands, (Commands{{"PING"}}));
}

TEST(RespParser, CommandStaysValidUntilNextFeed) {
  RespParser parser;
  const std::string input = "*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n";
  ParseResult result = parser.Feed(input);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed_bytes, 22u);
  EXPECT_EQ(parser.command()[1], "hi");
  result = parser.Feed(std::string_view(input).substr(22));
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  ASSERT_EQ(parser.command().size(), 1u);
  EXPECT_EQ(parser.command()[0], "PING");
}

struct Malformed {
  const char* name;
  std::string input;
  std::string error;
};

class RespParserMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(RespParserMalformed, RefusedWithExactError) {
  const Malformed& c = GetParam();
  EXPECT_EQ(FeedWhole(c.input).error, c.error);
  // Split byte by byte, the same error comes out.
  std::vector<std::string> bytes;
  for (const char ch : c.input) bytes.emplace_back(1, ch);
  EXPECT_EQ(FeedChunks(bytes).error, c.error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RespParserMalformed,
    ::testing::Values(
        Malformed{"ArrayCountNotANumber", "*x\r\n", "Protocol error: invalid multibulk length"},
        Malformed{"ArrayCountLeadingPlus", "*+1\r\n", "Protocol error: invalid multibulk length"},
        Malformed{"ArrayCountMissingCR", "*1\n$4\r\nPING\r\n",
                  "Protocol error: invalid multibulk length"},
        Malformed{"ArrayCountHuge", "*99999999999\r\n", "Protocol error: invalid multibulk length"},
        Malformed{"ArrayCountOverflow", "*99999999999999999999\r\n",
                  "Protocol error: invalid multibulk length"},
        Malformed{"ArrayHeaderTooLong", "*" + std::string(40, '1'),
                  "Protocol error: too big mbulk count string"},
        Malformed{"NotADollar", "*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"},
        Malformed{"BinaryInsteadOfDollar", "*1\r\n\x01", "Protocol error: expected '$', got '\\x01'"},
        Malformed{"NegativeBulkLength", "*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
        Malformed{"BulkLengthNotANumber", "*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
        Malformed{"BulkLengthOverLimit", "*1\r\n$1048577\r\n",
                  "Protocol error: invalid bulk length"},
        Malformed{"BulkHeaderTooLong", "*1\r\n$" + std::string(40, '9'),
                  "Protocol error: too big bulk count string"},
        Malformed{"BulkWithoutCRLF", "*1\r\n$4\r\nPINGxx", "Protocol error: expected CRLF after bulk data"},
        Malformed{"InlineBinaryJunk", std::string("\x00\x01garbage\r\n", 11),
                  "Protocol error: binary data in an inline command"},
        Malformed{"InlineEscapeByte", "PING \x1b[2J\r\n",
                  "Protocol error: binary data in an inline command"},
        Malformed{"InlineTooLong", std::string(64 * 1024 + 1, 'a'),
                  "Protocol error: too big inline request"}),
    [](const ::testing::TestParamInfo<Malformed>& param_info) {
      return std::string(param_info.param.name);
    });

TEST(RespParser, LimitsAreSettings) {
  ParserLimits limits;
  limits.bulk_bytes_max = 4;
  limits.args_count_max = 2;
  limits.command_bytes_max = 6;
  EXPECT_EQ(FeedWhole("*1\r\n$4\r\nPING\r\n", limits).commands, (Commands{{"PING"}}));
  EXPECT_EQ(FeedWhole("*1\r\n$5\r\nHELLO\r\n", limits).error, "Protocol error: invalid bulk length");
  EXPECT_EQ(FeedWhole("*3\r\n", limits).error, "Protocol error: invalid multibulk length");
  EXPECT_EQ(FeedWhole("a b c\r\n", limits).error, "Protocol error: invalid multibulk length");
  EXPECT_EQ(FeedWhole("*2\r\n$4\r\nECHO\r\n$4\r\nabcd\r\n", limits).error,
            "Protocol error: command exceeds the query buffer limit (client-query-buffer-limit)");
}

TEST(RespParser, StaysFailedUntilReset) {
  RespParser parser;
  EXPECT_EQ(parser.Feed("*x\r\n").status, ParseStatus::kError);
  EXPECT_EQ(parser.Feed("PING\r\n").status, ParseStatus::kError);
  parser.Reset();
  EXPECT_EQ(parser.Feed("PING\r\n").status, ParseStatus::kComplete);
}

TEST(RespParser, DeclaredBulkDoesNotReserveItsLength) {
  // A client that declares a 1 MB bulk and sends nothing must not cost 1 MB.
  RespParser parser;
  EXPECT_EQ(parser.Feed("*1\r\n$1048576\r\nab").status, ParseStatus::kNeedMore);
  EXPECT_LT(parser.command().empty() ? 0u : parser.command()[0].capacity(), 1u << 20);
}

}  // namespace
}  // namespace lockerd::protocol
