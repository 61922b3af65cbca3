// The argument parsers of server/engine/request_parse.h on their own, one
// table per command: what each form reads into, and the exact reply for
// each mistake (the engine and script tests reach them only through whole
// commands). Redis's texts where Redis has the command; the AgainstRedis
// tests compare them with a real redis-server.
#include "server/engine/request_parse.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "base/errors.h"

namespace lockerd::server {
namespace {

constexpr int64_t kMaxLeaseMs = 60'000;
constexpr int64_t kWallMs = 1'700'000'000'000;

// The error a parse gave, or "" when it read the arguments.
template <typename T>
std::string ErrorOf(const std::variant<T, std::string>& parsed) {
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

struct LockCase {
  std::vector<std::string> args;
  std::string error;  // "" when it parses.
  int64_t ttl_ms = 0;
  bool wait = false;
  int64_t wait_ms = 0;
};

TEST(RequestParse, Lock) {
  const LockCase cases[] = {
      {{"LOCK", "k", "o", "1000"}, "", 1000},
      {{"LOCK", "k", "o", "1000", "WAIT", "0"}, "", 1000, true, 0},  // 0 waits forever.
      {{"lock", "k", "o", "5", "wait", "250"}, "", 5, true, 250},    // Any case.
      {{"LOCK", "k", "o", "0"}, errors::TtlRange(kMaxLeaseMs)},
      {{"LOCK", "k", "o", "60001"}, errors::TtlRange(kMaxLeaseMs)},
      {{"LOCK", "k", "o", "60000"}, "", 60'000},
      {{"LOCK", "k", "o", "ten"}, std::string(errors::kNotInteger)},
      {{"LOCK", "k", "o", "1000", "WAIT", "-1"}, std::string(errors::kTimeoutNegative)},
      {{"LOCK", "k", "o", "1000", "WAIT", "x"}, std::string(errors::kTimeoutNotInteger)},  // As BLPOP.
      {{"LOCK", "k", "o", "1000", "WAIT"}, std::string(errors::kSyntax)},
      {{"LOCK", "k", "o", "1000", "FOR", "10"}, std::string(errors::kSyntax)},
  };
  for (const LockCase& c : cases) {
    const auto parsed = ParseLock(c.args, kMaxLeaseMs);
    ASSERT_EQ(ErrorOf(parsed), c.error) << testing::PrintToString(c.args);
    if (!c.error.empty()) continue;
    const LockArgs& lock = std::get<LockArgs>(parsed);
    EXPECT_EQ(lock.key, "k");
    EXPECT_EQ(lock.owner, "o");
    EXPECT_EQ(lock.ttl_ms, c.ttl_ms) << testing::PrintToString(c.args);
    EXPECT_EQ(lock.wait, c.wait) << testing::PrintToString(c.args);
    EXPECT_EQ(lock.wait_ms, c.wait_ms) << testing::PrintToString(c.args);
  }
}

struct SetCase {
  std::vector<std::string> args;
  std::string error;
  int64_t ttl_ms = 0;
  bool nx_lock = false;  // Runs as a LOCK that takes only a free key.
  bool swap = false;     // Runs as a hand-over (IFEQ).
};

TEST(RequestParse, Set) {
  const SetCase cases[] = {
      // The lock libraries' forms: options in any order, PX or EX.
      {{"SET", "k", "o", "NX", "PX", "1500"}, "", 1500, true},
      {{"SET", "k", "o", "PX", "1500", "NX"}, "", 1500, true},
      {{"set", "k", "o", "ex", "2", "nx"}, "", 2000, true},
      // Hand-over, and the forms that run as a transaction.
      {{"SET", "k", "new", "IFEQ", "old", "PX", "100"}, "", 100, false, true},
      {{"SET", "k", "o", "XX", "PX", "100"}, "", 100},
      {{"SET", "k", "o", "NX", "GET", "PX", "100"}, "", 100},  // GET: not the plain NX lock.
      {{"SET", "k", "o", "XX", "KEEPTTL"}, "", 0},
      // Redis's texts for Redis's mistakes.
      {{"SET", "k", "o", "NX", "PX", "0"}, std::string(errors::kInvalidExpireSet)},
      {{"SET", "k", "o", "NX", "PX", "-5"}, std::string(errors::kInvalidExpireSet)},
      {{"SET", "k", "o", "NX", "PX", "soon"}, std::string(errors::kNotInteger)},
      {{"SET", "k", "o", "NX", "XX", "PX", "10"}, std::string(errors::kSyntax)},
      {{"SET", "k", "o", "PX", "10", "EX", "1"}, std::string(errors::kSyntax)},
      {{"SET", "k", "o", "KEEPTTL", "PX", "10"}, std::string(errors::kSyntax)},
      {{"SET", "k", "o", "NX", "PX"}, std::string(errors::kSyntax)},
      {{"SET", "k", "o", "NX", "FOREVER"}, std::string(errors::kSyntax)},
      // Leases are bounded: past max-lease-ms is lockerd's own error.
      {{"SET", "k", "o", "NX", "PX", "60001"}, errors::TtlRange(kMaxLeaseMs)},
  };
  for (const SetCase& c : cases) {
    const auto parsed = ParseSet(c.args, kMaxLeaseMs);
    ASSERT_EQ(ErrorOf(parsed), c.error) << testing::PrintToString(c.args);
    if (!c.error.empty()) continue;
    const SetArgs& set = std::get<SetArgs>(parsed);
    EXPECT_EQ(set.key, "k");
    EXPECT_EQ(set.ttl_ms, c.ttl_ms) << testing::PrintToString(c.args);
    EXPECT_EQ(set.NxLock(), c.nx_lock) << testing::PrintToString(c.args);
    EXPECT_EQ(set.Swap(), c.swap) << testing::PrintToString(c.args);
  }
  const std::vector<std::string> hand_over = {"SET", "k", "new", "IFEQ", "old", "PX", "5"};
  const SetArgs swap = std::get<SetArgs>(ParseSet(hand_over, kMaxLeaseMs));
  EXPECT_EQ(swap.owner, "new");
  EXPECT_EQ(swap.old_owner, "old");
}

TEST(RequestParse, DelEx) {
  const auto plain = ParseDelEx(std::vector<std::string>{"DELEX", "k"});
  ASSERT_EQ(ErrorOf(plain), "");
  EXPECT_FALSE(std::get<DelExArgs>(plain).ifeq);
  // The parsed owner views the arguments: they must outlive it.
  const std::vector<std::string> ifeq_args = {"DELEX", "k", "ifeq", "me"};
  const auto ifeq = ParseDelEx(ifeq_args);
  ASSERT_EQ(ErrorOf(ifeq), "");
  EXPECT_TRUE(std::get<DelExArgs>(ifeq).ifeq);
  EXPECT_EQ(std::get<DelExArgs>(ifeq).owner, "me");
  // Redis 8.4's other conditions are not offered: the error says what is.
  EXPECT_EQ(ErrorOf(ParseDelEx(std::vector<std::string>{"DELEX", "k", "IFNE", "me"})),
            errors::kDelExOnlyIfEq);
}

struct ExpireCase {
  std::vector<std::string> args;
  int64_t unit_ms;
  std::string error;
  int64_t ttl_ms = 0;
};

TEST(RequestParse, ExpireAsRedis7ReadsIt) {
  const ExpireCase cases[] = {
      {{"EXPIRE", "k", "10"}, 1000, "", 10'000},
      {{"PEXPIRE", "k", "10"}, 1, "", 10},
      {{"PEXPIRE", "k", "0"}, 1, "", 0},  // Ends the lease, as in Redis.
      {{"EXPIRE", "k", "10", "XX", "GT"}, 1000, "", 10'000},
      {{"EXPIRE", "k", "10", "NX", "XX"}, 1000, std::string(errors::kExpireNxAndOthers)},
      {{"EXPIRE", "k", "10", "GT", "LT"}, 1000, std::string(errors::kExpireGtAndLt)},
      {{"EXPIRE", "k", "abc", "FOO"}, 1000, errors::UnsupportedOption("FOO")},  // Options first.
      {{"EXPIRE", "k", "abc"}, 1000, std::string(errors::kNotInteger)},
      {{"EXPIRE", "k", "9223372036854775807"}, 1000, errors::InvalidExpireTime("expire")},
  };
  for (const ExpireCase& c : cases) {
    const auto parsed = ParseExpire(c.args, c.unit_ms, kWallMs);
    ASSERT_EQ(ErrorOf(parsed), c.error) << testing::PrintToString(c.args);
    if (c.error.empty()) {
      EXPECT_EQ(std::get<ExpireArgs>(parsed).ttl_ms, c.ttl_ms) << testing::PrintToString(c.args);
    }
  }
}

TEST(RequestParse, Scan) {
  const std::vector<std::string> args = {"SCAN", "7", "MATCH", "lock:*", "COUNT", "50", "TYPE", "string"};
  const auto parsed = ParseScan(args);
  ASSERT_EQ(ErrorOf(parsed), "");
  const ScanArgs& scan = std::get<ScanArgs>(parsed);
  EXPECT_EQ(scan.cursor, 7u);
  EXPECT_EQ(scan.pattern, "lock:*");
  EXPECT_EQ(scan.count, 50u);
  EXPECT_TRUE(scan.type_filter && scan.type_matches);
  // Leases are strings: any other TYPE matches nothing, as in Redis.
  const std::vector<std::string> hashes = {"SCAN", "0", "TYPE", "hash"};
  EXPECT_FALSE(std::get<ScanArgs>(ParseScan(hashes)).type_matches);
  EXPECT_EQ(ErrorOf(ParseScan(std::vector<std::string>{"SCAN", "x"})), errors::kInvalidCursor);
  EXPECT_EQ(ErrorOf(ParseScan(std::vector<std::string>{"SCAN", "0", "MATCH"})), errors::kSyntax);
}

}  // namespace
}  // namespace lockerd::server
