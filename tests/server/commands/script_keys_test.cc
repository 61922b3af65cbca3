// The commands a script may call (server/commands/script_keys.h), on
// hand-built snapshots: Redis's meaning of SET / DEL / EXPIRE / TTL with
// leases, the lock commands deciding exactly as the native ones (SPEC
// section 1), fresh fencing tokens above the counter and the wall-clock
// floor, read-only scripts, and what Writes() hands to the cluster.
#include "server/commands/script_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "base/errors.h"

namespace lockerd::server::script {
namespace {

// PTTL, TTL and LOCKINFO report what the holder may count on: the time
// left, less the drift allowance (1%) and δ (cluster/lease_math.h).
int64_t Reported(int64_t remaining_ms) { return cluster::ReportedRemainingMs(remaining_ms, 0.01); }

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = ScriptValue::Kind;

constexpr int64_t kWallMs = 1'700'000'000'000;
constexpr double kDrift = 0.01;
constexpr int64_t kMaxLeaseMs = 60'000;
constexpr std::string_view kReadOnlyText = "ERR Write commands are not allowed from read-only scripts.";

cluster::LeaseView Held(std::string owner, uint64_t token, int64_t remaining_ms) {
  return {true, std::move(owner), token, remaining_ms};
}

int64_t Kept(int64_t remaining_ms) { return cluster::CarriedOverMs(remaining_ms, kDrift, kMaxLeaseMs); }

class ScriptKeysTest : public ::testing::Test {
 protected:
  void Declare(std::string key, cluster::LeaseView lease = {}) {
    keys_.push_back(std::move(key));
    leases_.push_back(std::move(lease));
  }

  ScriptKeys& Start(bool read_only = false) {
    const cluster::TxnView view{keys_, leases_, counter_, wall_ms_};
    script_.emplace(view, ScriptKeysOptions{kMaxLeaseMs, kDrift, read_only});
    return *script_;
  }

  ScriptValue Call(std::vector<std::string> args) { return script_->Call(args); }

  std::string CallError(std::vector<std::string> args) {
    const ScriptValue reply = Call(args);
    EXPECT_EQ(reply.kind, Kind::kError) << (args.empty() ? "" : args[0]);
    return reply.text;
  }

  int64_t CallInteger(std::vector<std::string> args) {
    const ScriptValue reply = Call(args);
    EXPECT_EQ(reply.kind, Kind::kInteger) << args[0] << ": " << reply.text;
    return reply.integer;
  }

  bool CallOk(std::vector<std::string> args) {
    const ScriptValue reply = Call(args);
    return reply.kind == Kind::kStatus && reply.text == "OK";
  }

  bool CallNull(std::vector<std::string> args) { return Call(std::move(args)).kind == Kind::kNull; }

  // The write Writes() reports for `key`.
  cluster::TxnWrite WriteOf(const std::string& key) {
    const std::vector<cluster::TxnWrite> writes = script_->Writes();
    EXPECT_EQ(writes.size(), keys_.size());
    for (size_t i = 0; i < keys_.size() && i < writes.size(); ++i) {
      if (keys_[i] == key) return writes[i];
    }
    ADD_FAILURE() << "no key " << key;
    return {};
  }

  std::vector<std::string> keys_;
  std::vector<cluster::LeaseView> leases_;
  uint64_t counter_ = 5;
  int64_t wall_ms_ = kWallMs;
  std::optional<ScriptKeys> script_;
};

// --- SET ------------------------------------------------------------------

TEST_F(ScriptKeysTest, SetNxOnFreeKeyGrantsAFreshToken) {
  Declare("k");
  Start();
  EXPECT_TRUE(CallOk({"SET", "k", "me", "NX", "PX", "1000"}));
  const cluster::TxnWrite write = WriteOf("k");
  EXPECT_TRUE(write.write);
  EXPECT_TRUE(write.held);
  EXPECT_EQ(write.owner, "me");
  EXPECT_GT(write.token, counter_);
  EXPECT_EQ(write.token, cluster::NextToken(counter_, kWallMs));
  EXPECT_GE(write.token, cluster::TokenFloor(kWallMs)) << "the wall-clock floor";
  EXPECT_EQ(write.ttl_ms, 1000);
  EXPECT_TRUE(write.grants);
  ASSERT_EQ(Call({"GET", "k"}).kind, Kind::kBulk) << "later reads see the write";
  EXPECT_EQ(Call({"GET", "k"}).text, "me");
  EXPECT_EQ(CallInteger({"PTTL", "k"}), Reported(1000));
}

TEST_F(ScriptKeysTest, FreshTokenIsAboveACounterAboveTheFloor) {
  counter_ = cluster::TokenFloor(kWallMs) + 500;
  Declare("k");
  Start();
  EXPECT_TRUE(CallOk({"set", "k", "me", "nx", "ex", "2"}));
  EXPECT_EQ(WriteOf("k").token, counter_ + 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, 2000);
}

TEST_F(ScriptKeysTest, SetNxOnHeldKeyIsNull) {
  Declare("k", Held("other", 77, 5000));
  Start();
  EXPECT_TRUE(CallNull({"SET", "k", "me", "NX", "PX", "1000"}));
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(Call({"GET", "k"}).text, "other");
  // Redis's SET NX: null whoever holds the key, even the same owner (the
  // native SET NX PX renews for its owner instead; SPEC section 5).
  EXPECT_TRUE(CallNull({"SET", "k", "other", "NX", "PX", "1000"}));
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, SetBySameOwnerRenewsAndNeverShortens) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_TRUE(CallOk({"SET", "k", "me", "PX", "1000"}));
  cluster::TxnWrite write = WriteOf("k");
  EXPECT_EQ(write.token, 77u) << "same owner, same lease";
  EXPECT_EQ(write.ttl_ms, Kept(5000)) << "a shorter ttl does not shorten the lease";
  EXPECT_GE(write.ttl_ms, 5000);
  EXPECT_TRUE(write.grants);
  EXPECT_TRUE(CallOk({"SET", "k", "me", "PX", "20000"}));
  write = WriteOf("k");
  EXPECT_EQ(write.token, 77u);
  EXPECT_EQ(write.ttl_ms, 20000);
  EXPECT_TRUE(CallOk({"SET", "k", "me", "XX", "EX", "30"}));
  EXPECT_EQ(WriteOf("k").ttl_ms, 30000);
  EXPECT_EQ(WriteOf("k").token, 77u);
}

TEST_F(ScriptKeysTest, SetByAnotherOwnerTakesOverWithANewToken) {
  Declare("k", Held("other", 77, 5000));
  counter_ = 77;
  Start();
  EXPECT_TRUE(CallOk({"SET", "k", "me", "PX", "1000"}));
  const cluster::TxnWrite write = WriteOf("k");
  EXPECT_EQ(write.owner, "me");
  EXPECT_NE(write.token, 77u);
  EXPECT_GT(write.token, 77u);
  EXPECT_EQ(write.token, cluster::NextToken(77, kWallMs));
  EXPECT_EQ(write.ttl_ms, 1000) << "a new lease: its own ttl";
  EXPECT_TRUE(write.grants);
}

TEST_F(ScriptKeysTest, SetXx) {
  Declare("free");
  Declare("held", Held("other", 77, 5000));
  Start();
  EXPECT_TRUE(CallNull({"SET", "free", "me", "XX", "PX", "1000"}));
  EXPECT_FALSE(WriteOf("free").write);
  EXPECT_TRUE(CallOk({"SET", "held", "me", "XX", "PX", "1000"}));
  EXPECT_GT(WriteOf("held").token, 77u);
}

TEST_F(ScriptKeysTest, SetIfEqHandsTheLeaseOverKeepingItsToken) {
  Declare("k", Held("old", 77, 5000));
  Start();
  EXPECT_TRUE(CallNull({"SET", "k", "new", "IFEQ", "wrong", "PX", "1000"}));
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_TRUE(CallOk({"SET", "k", "new", "IFEQ", "old", "PX", "1000"}));
  cluster::TxnWrite write = WriteOf("k");
  EXPECT_EQ(write.owner, "new");
  EXPECT_EQ(write.token, 77u);
  EXPECT_EQ(write.ttl_ms, Kept(5000)) << "never shortened";
  EXPECT_TRUE(CallNull({"SET", "k", "newer", "IFEQ", "old", "PX", "1000"})) << "old no longer owns it";
  EXPECT_TRUE(CallOk({"SET", "k", "newer", "IFEQ", "new", "KEEPTTL"}));
  write = WriteOf("k");
  EXPECT_EQ(write.owner, "newer");
  EXPECT_EQ(write.token, 77u);
  EXPECT_EQ(write.ttl_ms, Kept(Kept(5000)));
  EXPECT_TRUE(CallOk({"SET", "k", "last", "IFEQ", "newer", "PX", "30000"}));
  EXPECT_EQ(WriteOf("k").ttl_ms, 30000);
  EXPECT_EQ(WriteOf("k").token, 77u);
}

TEST_F(ScriptKeysTest, SetIfEqOnFreeKeyIsNull) {
  Declare("k");
  Start();
  EXPECT_TRUE(CallNull({"SET", "k", "new", "IFEQ", "old", "PX", "1000"}));
  EXPECT_TRUE(CallNull({"SET", "k", "new", "IFEQ", "", "PX", "1000"}));
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, SetKeepTtl) {
  Declare("free");
  Declare("held", Held("me", 77, 5000));
  Start();
  EXPECT_THAT(CallError({"SET", "free", "me", "KEEPTTL"}), StartsWith("ERR"));
  EXPECT_FALSE(WriteOf("free").write);
  EXPECT_TRUE(CallOk({"SET", "held", "me", "KEEPTTL"}));
  EXPECT_EQ(WriteOf("held").token, 77u);
  EXPECT_EQ(WriteOf("held").ttl_ms, Kept(5000));
}

TEST_F(ScriptKeysTest, SetNeedsATtl) {
  Declare("k");
  Start();
  // The same words as SET outside scripts.
  EXPECT_EQ(CallError({"SET", "k", "me"}), errors::kSetForm);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX"}), errors::kSetForm);
  EXPECT_EQ(CallError({"SET", "k", "me", "PXAT", "100"}), errors::kSetForm);
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, SetSyntaxAndRanges) {
  Declare("k");
  Start();
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "XX", "PX", "100"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "IFEQ", "x", "PX", "100"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "PX", "1", "EX", "1"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "PX", "1", "KEEPTTL"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "BOGUS"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "PX"}), errors::kSyntax);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "PX", "abc"}), errors::kNotInteger);
  // As SET outside a script answers them, and as Redis does (issue 16, item 4).
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "PX", "0"}), errors::kInvalidExpireSet);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "PX", "-5"}), errors::kInvalidExpireSet);
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "PX", "60001"}), errors::TtlRange(kMaxLeaseMs));
  EXPECT_EQ(CallError({"SET", "k", "me", "NX", "EX", "61"}), errors::TtlRange(kMaxLeaseMs));
  EXPECT_TRUE(CallOk({"SET", "k", "me", "NX", "EX", "60"}));
  EXPECT_EQ(WriteOf("k").ttl_ms, 60'000);
  EXPECT_EQ(CallError({"SET", "k"}), errors::WrongArity("set"));
}

// --- DEL, EXISTS, TYPE, GET -----------------------------------------------

TEST_F(ScriptKeysTest, DelAndExistsCount) {
  Declare("a", Held("x", 10, 5000));
  Declare("b");
  Declare("c", Held("y", 11, 5000));
  Start();
  EXPECT_EQ(CallInteger({"EXISTS", "a", "b", "c"}), 2);
  EXPECT_EQ(CallInteger({"EXISTS", "a", "a", "b"}), 2) << "a key named twice counts twice, as in Redis";
  EXPECT_EQ(Call({"TYPE", "a"}).text, "string");
  EXPECT_EQ(Call({"TYPE", "b"}).text, "none");
  EXPECT_EQ(CallInteger({"DEL", "a", "b", "c"}), 2);
  EXPECT_EQ(CallInteger({"EXISTS", "a", "b", "c"}), 0);
  EXPECT_EQ(CallInteger({"DEL", "a"}), 0);
  EXPECT_TRUE(CallNull({"GET", "a"}));
  EXPECT_EQ(Call({"TYPE", "a"}).text, "none");
  EXPECT_TRUE(WriteOf("a").write);
  EXPECT_FALSE(WriteOf("a").held);
  EXPECT_FALSE(WriteOf("b").write) << "deleting a free key writes nothing";
  EXPECT_TRUE(WriteOf("c").write);
  EXPECT_FALSE(WriteOf("c").held);
}

TEST_F(ScriptKeysTest, UnlinkIsDel) {
  Declare("a", Held("x", 10, 5000));
  Start();
  EXPECT_EQ(CallInteger({"UNLINK", "a"}), 1);
  EXPECT_FALSE(WriteOf("a").held);
}

// --- PEXPIRE / EXPIRE / PTTL / TTL ----------------------------------------

TEST_F(ScriptKeysTest, PexpireRenewsTheSameLease) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "20000"}), 1);
  cluster::TxnWrite write = WriteOf("k");
  EXPECT_EQ(write.owner, "me");
  EXPECT_EQ(write.token, 77u);
  EXPECT_EQ(write.ttl_ms, 20000);
  EXPECT_TRUE(write.grants);
  EXPECT_EQ(CallInteger({"PTTL", "k"}), Reported(20000));
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "1000"}), 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, Kept(20000)) << "never shortened";
  EXPECT_EQ(CallInteger({"EXPIRE", "k", "60"}), 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, 60000);
}

TEST_F(ScriptKeysTest, ExpireZeroOrNegativeFrees) {
  Declare("a", Held("me", 77, 5000));
  Declare("b", Held("me", 78, 5000));
  Declare("c", Held("me", 79, 5000));
  Start();
  EXPECT_EQ(CallInteger({"PEXPIRE", "a", "0"}), 1);
  EXPECT_EQ(CallInteger({"PEXPIRE", "b", "-100"}), 1);
  EXPECT_EQ(CallInteger({"EXPIRE", "c", "-1"}), 1);
  for (const char* key : {"a", "b", "c"}) {
    EXPECT_TRUE(WriteOf(key).write) << key;
    EXPECT_FALSE(WriteOf(key).held) << key;
    EXPECT_EQ(CallInteger({"PTTL", key}), -2) << key;
  }
  EXPECT_EQ(CallInteger({"PEXPIRE", "a", "0"}), 0) << "a free key has no ttl to set";
}

TEST_F(ScriptKeysTest, ExpireOnFreeKeyIsZero) {
  Declare("k");
  Start();
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "1000"}), 0);
  EXPECT_EQ(CallInteger({"EXPIRE", "k", "1"}), 0);
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, ExpireOptions) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "9000", "NX"}), 0) << "every lease has a ttl";
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "3000", "GT"}), 0);
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "5000", "GT"}), 0) << "GT is strict";
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "9000", "LT"}), 0);
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "8000", "gt"}), 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, 8000);
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "3000", "LT"}), 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, Kept(8000)) << "LT answers 1 but the lease is not shortened";
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "9000", "XX"}), 1);
  EXPECT_EQ(CallError({"PEXPIRE", "k", "9000", "SOMETIMES"}), "ERR Unsupported option SOMETIMES");
  EXPECT_EQ(CallError({"PEXPIRE", "k", "soon"}), errors::kNotInteger);
  EXPECT_EQ(CallError({"PEXPIRE", "k"}), errors::WrongArity("pexpire"));
  // Redis 7's checks and texts, in its order: options (several at once),
  // then the number.
  EXPECT_EQ(CallError({"EXPIRE", "k", "1", "NX", "XX"}), errors::kExpireNxAndOthers);
  EXPECT_EQ(CallError({"EXPIRE", "k", "1", "XX", "GT", "LT"}), errors::kExpireGtAndLt);
  EXPECT_EQ(CallError({"EXPIRE", "k", "soon", "FOO"}), "ERR Unsupported option FOO");
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "9500", "XX", "GT"}), 1);
  EXPECT_EQ(WriteOf("k").ttl_ms, 9500);
}

TEST_F(ScriptKeysTest, ExpireAboveMaxLeaseErrors) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_EQ(CallError({"PEXPIRE", "k", "60001"}), errors::TtlRange(kMaxLeaseMs));
  EXPECT_EQ(CallError({"EXPIRE", "k", "61"}), errors::TtlRange(kMaxLeaseMs));
  // Past what milliseconds or a deadline can hold: Redis's text.
  EXPECT_EQ(CallError({"EXPIRE", "k", "9223372036854775807"}), errors::InvalidExpireTime("expire"));
  EXPECT_EQ(CallError({"pexpire", "k", "9223372036854775000"}), errors::InvalidExpireTime("pexpire"));
  EXPECT_EQ(CallError({"EXPIRE", "k", "-9223372036854775807"}), errors::InvalidExpireTime("expire"));
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"PEXPIRE", "k", "60000"}), 1);
}

TEST_F(ScriptKeysTest, PttlAndTtl) {
  Declare("free");
  Declare("a", Held("me", 1, 1499));
  Declare("b", Held("me", 2, 1520));
  Declare("c", Held("me", 3, 400));
  Start();
  EXPECT_EQ(CallInteger({"PTTL", "free"}), -2);
  EXPECT_EQ(CallInteger({"TTL", "free"}), -2);
  // What the holder may count on, as PTTL outside scripts: 1499 * 0.99 - 2.
  EXPECT_EQ(CallInteger({"PTTL", "a"}), 1482);
  EXPECT_EQ(CallInteger({"TTL", "a"}), 1) << "Redis rounds TTL to the nearest second";
  EXPECT_EQ(CallInteger({"TTL", "b"}), 2);
  EXPECT_EQ(CallInteger({"TTL", "c"}), 0);
  EXPECT_EQ(CallError({"PTTL"}), errors::WrongArity("pttl"));
}

// --- The lock commands ----------------------------------------------------

TEST_F(ScriptKeysTest, LockAsTheNativeCommand) {
  Declare("k");
  Start();
  const int64_t token = CallInteger({"LOCK", "k", "me", "5000"});
  EXPECT_EQ(static_cast<uint64_t>(token), cluster::NextToken(counter_, kWallMs));
  EXPECT_TRUE(CallNull({"LOCK", "k", "other", "5000"}));
  EXPECT_EQ(CallInteger({"LOCK", "k", "me", "1000"}), token) << "idempotent";
  EXPECT_EQ(WriteOf("k").ttl_ms, Kept(5000)) << "a renewal never shortens";
  EXPECT_EQ(CallInteger({"lock", "k", "me", "9000"}), token);
  EXPECT_EQ(WriteOf("k").ttl_ms, 9000);
  EXPECT_TRUE(WriteOf("k").grants);
  EXPECT_EQ(CallError({"LOCK", "k", "me", "0"}), errors::TtlRange(kMaxLeaseMs));
  EXPECT_EQ(CallError({"LOCK", "k", "me", "60001"}), errors::TtlRange(kMaxLeaseMs));
  EXPECT_EQ(CallError({"LOCK", "k", "me", "5s"}), errors::kNotInteger);
  EXPECT_EQ(CallError({"LOCK", "k", "me"}), errors::WrongArity("lock"));
  EXPECT_THAT(CallError({"LOCK", "k", "other", "100", "WAIT", "10"}), HasSubstr("cannot block"));
}

TEST_F(ScriptKeysTest, ExtendAsTheNativeCommand) {
  Declare("k", Held("me", 77, 5000));
  Declare("free");
  Start();
  EXPECT_TRUE(CallNull({"EXTEND", "k", "other", "20000"}));
  EXPECT_TRUE(CallNull({"EXTEND", "free", "me", "20000"}));
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_FALSE(WriteOf("free").write);
  EXPECT_EQ(CallInteger({"EXTEND", "k", "me", "20000"}), 77);
  EXPECT_EQ(WriteOf("k").ttl_ms, 20000);
  EXPECT_EQ(CallInteger({"EXTEND", "k", "me", "100"}), 77);
  EXPECT_EQ(WriteOf("k").ttl_ms, Kept(20000));
  EXPECT_EQ(CallError({"EXTEND", "k", "me", "0"}), errors::TtlRange(kMaxLeaseMs));
}

TEST_F(ScriptKeysTest, ReleaseAsTheNativeCommand) {
  Declare("k", Held("me", 77, 5000));
  Declare("free");
  Start();
  EXPECT_EQ(CallInteger({"RELEASE", "k", "other"}), 0);
  EXPECT_EQ(CallInteger({"RELEASE", "free", "me"}), 0);
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"RELEASE", "k", "me"}), 1);
  EXPECT_EQ(CallInteger({"RELEASE", "k", "me"}), 0);
  EXPECT_TRUE(WriteOf("k").write);
  EXPECT_FALSE(WriteOf("k").held);
  EXPECT_EQ(CallError({"RELEASE", "k"}), errors::WrongArity("release"));
}

TEST_F(ScriptKeysTest, UpdateAsTheNativeCommand) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_TRUE(CallNull({"UPDATE", "k", "other", "you"}));
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"UPDATE", "k", "me", "you"}), 77);
  const cluster::TxnWrite write = WriteOf("k");
  EXPECT_EQ(write.owner, "you");
  EXPECT_EQ(write.token, 77u);
  EXPECT_EQ(write.ttl_ms, Kept(5000)) << "what was left, stretched by the drift allowance";
  EXPECT_EQ(Call({"GET", "k"}).text, "you");
  EXPECT_TRUE(CallNull({"UPDATE", "k", "me", "again"}));
  EXPECT_EQ(CallInteger({"RELEASE", "k", "me"}), 0);
  EXPECT_EQ(CallInteger({"RELEASE", "k", "you"}), 1);
}

TEST_F(ScriptKeysTest, DelIfEqIsRelease) {
  Declare("k", Held("me", 77, 5000));
  Start();
  EXPECT_EQ(CallInteger({"DELIFEQ", "k", "other"}), 0);
  EXPECT_FALSE(WriteOf("k").write);
  EXPECT_EQ(CallInteger({"delifeq", "k", "me"}), 1);
  EXPECT_FALSE(WriteOf("k").held);
  EXPECT_EQ(CallInteger({"DELIFEQ", "k", "me"}), 0);
  EXPECT_EQ(CallError({"DELIFEQ", "k"}), errors::WrongArity("delifeq"));
}

TEST_F(ScriptKeysTest, DelEx) {
  Declare("a", Held("me", 77, 5000));
  Declare("b", Held("me", 78, 5000));
  Start();
  EXPECT_EQ(CallInteger({"DELEX", "a"}), 1) << "plain DELEX is DEL";
  EXPECT_EQ(CallInteger({"DELEX", "a"}), 0);
  EXPECT_EQ(CallInteger({"DELEX", "b", "IFEQ", "other"}), 0);
  EXPECT_FALSE(WriteOf("b").write);
  EXPECT_EQ(CallInteger({"DELEX", "b", "ifeq", "me"}), 1);
  EXPECT_FALSE(WriteOf("b").held);
  EXPECT_THAT(CallError({"DELEX", "b", "IFNE", "me"}), HasSubstr("only IFEQ"));
  EXPECT_EQ(CallError({"DELEX", "b", "IFEQ"}), errors::kSyntax);
  EXPECT_EQ(CallError({"DELEX"}), errors::WrongArity("delex"));
}

TEST_F(ScriptKeysTest, LockInfo) {
  Declare("k", Held("me", 77, 5000));
  Declare("free");
  Start();
  const ScriptValue info = Call({"LOCKINFO", "k"});
  ASSERT_EQ(info.kind, Kind::kArray);
  ASSERT_EQ(info.items.size(), 6u);
  EXPECT_EQ(info.items[0].text, "owner");
  EXPECT_EQ(info.items[1].text, "me");
  EXPECT_EQ(info.items[2].text, "token");
  EXPECT_EQ(info.items[3].integer, 77);
  EXPECT_EQ(info.items[4].text, "remaining_ms");
  EXPECT_EQ(info.items[5].integer, Reported(5000));
  EXPECT_TRUE(CallNull({"LOCKINFO", "free"}));
}

TEST_F(ScriptKeysTest, TwoAcquiresGetIncreasingTokens) {
  Declare("a");
  Declare("b");
  Declare("c");
  Start();
  const int64_t first = CallInteger({"LOCK", "a", "me", "1000"});
  EXPECT_TRUE(CallOk({"SET", "b", "me", "NX", "PX", "1000"}));
  const uint64_t second = WriteOf("b").token;
  EXPECT_GT(second, static_cast<uint64_t>(first));
  const int64_t third = CallInteger({"LOCK", "c", "me", "1000"});
  EXPECT_GT(static_cast<uint64_t>(third), second);
  // Released and taken again in the same script: a fresh token again.
  EXPECT_EQ(CallInteger({"RELEASE", "a", "me"}), 1);
  const int64_t again = CallInteger({"LOCK", "a", "other", "1000"});
  EXPECT_GT(again, third);
}

// --- Errors, read-only scripts, Writes() ----------------------------------

TEST_F(ScriptKeysTest, UndeclaredKeysError) {
  Declare("k");
  Start();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"GET", "other"},
                                             {"SET", "other", "me", "NX", "PX", "100"},
                                             {"DEL", "k", "other"},
                                             {"EXISTS", "other"},
                                             {"PEXPIRE", "other", "100"},
                                             {"PTTL", "other"},
                                             {"TTL", "other"},
                                             {"TYPE", "other"},
                                             {"LOCK", "other", "me", "100"},
                                             {"EXTEND", "other", "me", "100"},
                                             {"RELEASE", "other", "me"},
                                             {"UPDATE", "other", "me", "you"},
                                             {"DELIFEQ", "other", "me"},
                                             {"DELEX", "other", "IFEQ", "me"},
                                             {"LOCKINFO", "other"}}) {
    EXPECT_THAT(CallError(args), HasSubstr("'other' that is not in its KEYS")) << args[0];
  }
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, ReadOnlyRefusesWrites) {
  Declare("k", Held("me", 77, 5000));
  Start(/*read_only=*/true);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"SET", "k", "me", "PX", "100"},
                                             {"set", "k", "me", "PX", "100"},
                                             {"DEL", "k"},
                                             {"UNLINK", "k"},
                                             {"PEXPIRE", "k", "100"},
                                             {"EXPIRE", "k", "1"},
                                             {"LOCK", "k", "me", "100"},
                                             {"EXTEND", "k", "me", "100"},
                                             {"RELEASE", "k", "me"},
                                             {"UPDATE", "k", "me", "you"},
                                             {"DELIFEQ", "k", "me"},
                                             {"DELEX", "k"},
                                             {"DELEX", "k", "IFEQ", "me"}}) {
    EXPECT_EQ(CallError(args), kReadOnlyText) << args[0];
  }
  EXPECT_EQ(Call({"GET", "k"}).text, "me");
  EXPECT_EQ(CallInteger({"EXISTS", "k"}), 1);
  EXPECT_EQ(CallInteger({"PTTL", "k"}), Reported(5000));
  EXPECT_EQ(Call({"LOCKINFO", "k"}).kind, Kind::kArray);
  EXPECT_EQ(Call({"TYPE", "k"}).text, "string");
  EXPECT_FALSE(WriteOf("k").write);
}

TEST_F(ScriptKeysTest, UnknownCommandsError) {
  Declare("k");
  Start();
  for (const char* name : {"HSET", "FLUSHALL", "EVAL", "KEYS", "CONFIG", "SCRIPT", "WAIT", "nosuch"}) {
    EXPECT_THAT(CallError({name, "k", "x"}), StartsWith("ERR Unknown Redis command called from script"))
        << name;
  }
  EXPECT_THAT(CallError({}), HasSubstr("at least one argument"));
}

TEST_F(ScriptKeysTest, ConnectionCommands) {
  Declare("k");
  Start();
  const ScriptValue ok = Call({"SELECT", "0"});
  EXPECT_EQ(ok.kind, Kind::kStatus);
  EXPECT_EQ(ok.text, "OK");
  EXPECT_EQ(CallError({"SELECT", "1"}), errors::kDbIndex);
  EXPECT_EQ(CallError({"SELECT", "x"}), errors::kNotInteger);
  const ScriptValue pong = Call({"PING"});
  EXPECT_EQ(pong.kind, Kind::kStatus);
  EXPECT_EQ(pong.text, "PONG");
  const ScriptValue echo = Call({"ping", "hi"});
  EXPECT_EQ(echo.kind, Kind::kBulk);
  EXPECT_EQ(echo.text, "hi");
  EXPECT_EQ(CallError({"GET"}), errors::WrongArity("get"));
  EXPECT_EQ(CallError({"GET", "k", "extra"}), errors::WrongArity("get"));
}

TEST_F(ScriptKeysTest, WritesReportOnlyWrittenKeysInViewOrder) {
  Declare("read", Held("x", 10, 5000));
  Declare("taken");
  Declare("untouched", Held("y", 11, 5000));
  Declare("released", Held("me", 12, 5000));
  Start();
  EXPECT_EQ(Call({"GET", "read"}).text, "x");
  EXPECT_EQ(CallInteger({"PTTL", "untouched"}), Reported(5000));
  const int64_t token = CallInteger({"LOCK", "taken", "me", "3000"});
  EXPECT_EQ(CallInteger({"RELEASE", "released", "me"}), 1);
  const std::vector<cluster::TxnWrite> writes = script_->Writes();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_FALSE(writes[0].write);
  EXPECT_TRUE(writes[1].write);
  EXPECT_TRUE(writes[1].held);
  EXPECT_EQ(writes[1].owner, "me");
  EXPECT_EQ(writes[1].token, static_cast<uint64_t>(token));
  EXPECT_EQ(writes[1].ttl_ms, 3000);
  EXPECT_TRUE(writes[1].grants);
  EXPECT_FALSE(writes[2].write);
  EXPECT_TRUE(writes[3].write);
  EXPECT_FALSE(writes[3].held);
  EXPECT_TRUE(writes[3].owner.empty());
  // A freed key carries the largest token the script granted, for the
  // members' counters (a token granted and freed in one transaction must
  // never be granted again).
  EXPECT_EQ(writes[3].token, static_cast<uint64_t>(token));
  EXPECT_FALSE(writes[3].grants);
}

TEST_F(ScriptKeysTest, AFreedKeyCarriesNoTokenWhenNoneWasGranted) {
  Declare("released", Held("me", 12, 5000));
  Start();
  EXPECT_EQ(CallInteger({"RELEASE", "released", "me"}), 1);
  EXPECT_EQ(script_->Writes()[0].token, 0u);
}

TEST_F(ScriptKeysTest, FreedThenTakenAgainIsOneWrite) {
  Declare("k", Held("old", 10, 5000));
  Start();
  EXPECT_EQ(CallInteger({"DEL", "k"}), 1);
  EXPECT_TRUE(CallOk({"SET", "k", "new", "NX", "PX", "2000"}));
  const cluster::TxnWrite write = WriteOf("k");
  EXPECT_TRUE(write.write);
  EXPECT_TRUE(write.held);
  EXPECT_EQ(write.owner, "new");
  EXPECT_GT(write.token, 10u);
  EXPECT_EQ(write.ttl_ms, 2000);
  EXPECT_TRUE(write.grants);
}

TEST_F(ScriptKeysTest, NothingCalledNothingWritten) {
  Declare("a", Held("x", 10, 5000));
  Declare("b");
  Start();
  for (const cluster::TxnWrite& write : script_->Writes()) EXPECT_FALSE(write.write);
}

}  // namespace
// Owners written by scripts are bounded by max-key-bytes, as LOCK's are:
// a longer one would be dropped by every peer (peer message size) and the
// script could never reach a majority.
TEST_F(ScriptKeysTest, OwnersLongerThanMaxKeyBytesAreRefused) {
  Declare("k", Held("me", 7, 5000));
  Start();
  const std::string too_long(4097, 'o');
  const std::string error = "ERR key or owner is longer than max-key-bytes (4096)";
  EXPECT_EQ(CallError({"SET", "k", too_long, "PX", "1000"}), error);
  EXPECT_EQ(CallError({"LOCK", "k", too_long, "1000"}), error);
  EXPECT_EQ(CallError({"UPDATE", "k", "me", too_long}), error);
  EXPECT_FALSE(script_->Writes()[0].write) << "nothing written";
  EXPECT_EQ(Call({"SET", "k", std::string(4096, 'o'), "PX", "1000"}).kind, Kind::kStatus)
      << "max-key-bytes itself is fine";
}

}  // namespace lockerd::server::script
