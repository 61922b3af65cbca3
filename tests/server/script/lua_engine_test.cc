// The Lua interpreter alone (server/script/lua_engine.h), with a fake
// redis.call: the script cache (SHA1 names as Redis computes them, LRU
// eviction, FLUSH), Redis's conversions between Lua values and replies, the
// sandbox, and the time and memory limits.
#include "server/script/lua_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <malloc.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/script/script_value.h"

namespace lockerd::server::script {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Kind = ScriptValue::Kind;

constexpr std::string_view kReturnOneSha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";

// A fake server: replies chosen by the command's name, every call recorded.
class FakeServer {
 public:
  ScriptValue operator()(std::span<const std::string> args) {
    calls.emplace_back(args.begin(), args.end());
    const std::string& name = args[0];
    if (name == "null") return ScriptValue::Null();
    if (name == "int") return ScriptValue::Integer(42);
    if (name == "negative") return ScriptValue::Integer(-7);
    if (name == "bulk") return ScriptValue::Bulk("hello");
    if (name == "empty") return ScriptValue::Bulk("");
    if (name == "status") return ScriptValue::Status("FINE");
    if (name == "big") {  // 600 KB, different every time (Lua interns equal strings).
      std::string big = std::to_string(++bigs) + ":";
      big.resize(600 * 1024, 'x');
      return ScriptValue::Bulk(std::move(big));
    }
    if (name == "error") return ScriptValue::Error("ERR boom");
    if (name == "array") {
      return ScriptValue::Array({ScriptValue::Integer(1), ScriptValue::Bulk("two"), ScriptValue::Null(),
                                 ScriptValue::Array({ScriptValue::Status("x")})});
    }
    if (name == "echo") {
      std::vector<ScriptValue> items;
      for (size_t i = 1; i < args.size(); ++i) items.push_back(ScriptValue::Bulk(args[i]));
      return ScriptValue::Array(std::move(items));
    }
    return ScriptValue::Error("ERR unknown command '" + name + "'");
  }

  std::vector<std::vector<std::string>> calls;
  int bigs = 0;
};

class LuaEngineTest : public ::testing::Test {
 protected:
  explicit LuaEngineTest(LuaLimits limits = {}) : lua_(limits) {}

  std::string Load(std::string_view body) {
    auto loaded = lua_.Load(body);
    EXPECT_EQ(loaded.index(), 0u) << std::get<1>(loaded);
    return loaded.index() == 0 ? std::get<0>(loaded) : std::string();
  }

  std::string LoadError(std::string_view body) {
    auto loaded = lua_.Load(body);
    EXPECT_EQ(loaded.index(), 1u) << "loaded as " << std::get<0>(loaded);
    return loaded.index() == 1 ? std::get<1>(loaded) : std::string();
  }

  LuaRun RunFull(std::string_view body, std::vector<std::string> keys = {},
                 std::vector<std::string> argv = {}) {
    const std::string sha = Load(body);
    if (sha.empty()) return {ScriptValue::Error("not loaded"), false};
    const LuaEngine::CallFn call = [this](std::span<const std::string> args) { return server_(args); };
    return lua_.Run(sha, keys, argv, call);
  }

  ScriptValue Run(std::string_view body, std::vector<std::string> keys = {},
                  std::vector<std::string> argv = {}) {
    return RunFull(body, std::move(keys), std::move(argv)).reply;
  }

  // The error text a script ends with (empty, and a test failure, if it
  // did not end with an error).
  std::string RunError(std::string_view body) {
    const ScriptValue reply = Run(body);
    EXPECT_EQ(reply.kind, Kind::kError) << body;
    return reply.text;
  }

  LuaEngine lua_;
  FakeServer server_;
};

void ExpectInteger(const ScriptValue& value, int64_t expected, std::string_view note = "") {
  EXPECT_EQ(value.kind, Kind::kInteger) << note << " " << value.text;
  EXPECT_EQ(value.integer, expected) << note;
}

void ExpectBulk(const ScriptValue& value, std::string_view expected, std::string_view note = "") {
  EXPECT_EQ(value.kind, Kind::kBulk) << note << " " << value.text;
  EXPECT_EQ(value.text, expected) << note;
}

// --- The script cache -----------------------------------------------------

TEST_F(LuaEngineTest, Sha1IsRedis) {
  EXPECT_EQ(Load("return 1"), kReturnOneSha);
  EXPECT_TRUE(lua_.Exists(kReturnOneSha));
  // sha1("") as Redis names the empty script.
  EXPECT_EQ(Load(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Run("").kind, Kind::kNull) << "the empty script returns nothing";
  ExpectBulk(Run("return redis.sha1hex('return 1')"), kReturnOneSha);
  ExpectBulk(Run("return redis.sha1hex('')"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_F(LuaEngineTest, LoadingTwiceCompilesOnce) {
  EXPECT_EQ(Load("return 1"), kReturnOneSha);
  EXPECT_EQ(Load("return 1"), kReturnOneSha);
  EXPECT_EQ(lua_.cached(), 1u);
  EXPECT_EQ(lua_.stats().compiled, 1u);
}

TEST_F(LuaEngineTest, CompileErrorsAreRedisErrors) {
  EXPECT_THAT(LoadError("return +"), StartsWith("ERR Error compiling script"));
  EXPECT_THAT(LoadError("if true then"), StartsWith("ERR Error compiling script"));
  EXPECT_THAT(LoadError("local x = 'unfinished"), StartsWith("ERR Error compiling script"));
  EXPECT_EQ(lua_.cached(), 0u);
  EXPECT_FALSE(lua_.Exists("9d04fe5bc9a32b3d4a8e5dbda1d4b5cae8e6c1a3"));
  ExpectInteger(Run("return 1"), 1, "the engine is fine after compile errors");
}

TEST_F(LuaEngineTest, BytecodeIsRefused) {
  const std::string error = LoadError(std::string("\x1bLua\x51\x00\x01\x04\x08\x04\x08\x00", 12));
  EXPECT_THAT(error, StartsWith("ERR Error compiling script"));
  EXPECT_THAT(error, HasSubstr("bytecode"));
  EXPECT_THAT(LoadError("\x1b"), StartsWith("ERR Error compiling script"));
  EXPECT_EQ(lua_.cached(), 0u);
}

TEST_F(LuaEngineTest, BodyLongerThanTheLimitIsRefused) {
  LuaEngine small({.time_limit_ms = 500, .memory_limit_bytes = 1u << 20, .cache_max = 10, .body_bytes_max = 16});
  auto loaded = small.Load("return 'this body is too long'");
  ASSERT_EQ(loaded.index(), 1u);
  EXPECT_THAT(std::get<1>(loaded), HasSubstr("script-max-bytes"));
  EXPECT_EQ(small.Load("return 1").index(), 0u);
}

TEST_F(LuaEngineTest, ExistsAndBodyIgnoreCase) {
  const std::string sha = Load("return 1");
  std::string upper = sha;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  EXPECT_TRUE(lua_.Exists(sha));
  EXPECT_TRUE(lua_.Exists(upper));
  ASSERT_NE(lua_.Body(upper), nullptr);
  EXPECT_EQ(*lua_.Body(upper), "return 1");
  const LuaEngine::CallFn call = [this](std::span<const std::string> args) { return server_(args); };
  ExpectInteger(lua_.Run(upper, {}, {}, call).reply, 1);
  EXPECT_FALSE(lua_.Exists("e0e1f9fabfc9d4800c877a703b823ac0578ff8d"));    // 39 digits.
  EXPECT_FALSE(lua_.Exists("e0e1f9fabfc9d4800c877a703b823ac0578ff8dbb"));  // 41 digits.
  EXPECT_FALSE(lua_.Exists("f0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
  EXPECT_FALSE(lua_.Exists(""));
  EXPECT_EQ(lua_.Body("f0e1f9fabfc9d4800c877a703b823ac0578ff8db"), nullptr);
}

class LuaEngineSmallCacheTest : public LuaEngineTest {
 protected:
  LuaEngineSmallCacheTest() : LuaEngineTest({.time_limit_ms = 500, .memory_limit_bytes = 64u << 20, .cache_max = 2}) {}
};

TEST_F(LuaEngineSmallCacheTest, LeastRecentlyUsedIsEvicted) {
  const std::string a = Load("return 'a'");
  const std::string b = Load("return 'b'");
  ExpectBulk(Run("return 'a'"), "a");  // Touches a: b is now the oldest.
  const std::string c = Load("return 'c'");
  EXPECT_EQ(lua_.cached(), 2u);
  EXPECT_TRUE(lua_.Exists(a));
  EXPECT_FALSE(lua_.Exists(b));
  EXPECT_TRUE(lua_.Exists(c));
  EXPECT_EQ(lua_.Body(b), nullptr) << "an evicted script's body is gone";
  ASSERT_NE(lua_.Body(a), nullptr);
  EXPECT_EQ(*lua_.Body(a), "return 'a'");
  EXPECT_EQ(lua_.stats().evicted, 1u);

  // Loading again also counts as a use: a is now newer than c.
  Load("return 'a'");
  const std::string d = Load("return 'd'");
  EXPECT_TRUE(lua_.Exists(a));
  EXPECT_FALSE(lua_.Exists(c));
  EXPECT_TRUE(lua_.Exists(d));
  EXPECT_EQ(lua_.stats().evicted, 2u);

  // An evicted script can be loaded again, under the same name.
  EXPECT_EQ(Load("return 'b'"), b);
  ExpectBulk(Run("return 'b'"), "b");
}

TEST_F(LuaEngineTest, FlushForgetsEveryScript) {
  const std::string a = Load("return 'a'");
  const std::string b = Load("return 'b'");
  lua_.Flush();
  EXPECT_EQ(lua_.cached(), 0u);
  EXPECT_FALSE(lua_.Exists(a));
  EXPECT_FALSE(lua_.Exists(b));
  EXPECT_EQ(lua_.Body(a), nullptr);
  ExpectBulk(Run("return 'a'"), "a", "loads and runs again after a flush");
  lua_.Flush();
  lua_.Flush();
  EXPECT_EQ(lua_.cached(), 0u);
}

// --- Lua values as replies ------------------------------------------------

TEST_F(LuaEngineTest, NumbersBecomeIntegersTruncated) {
  ExpectInteger(Run("return 42"), 42);
  ExpectInteger(Run("return 3.99"), 3);
  ExpectInteger(Run("return -3.99"), -3);
  ExpectInteger(Run("return 0.5"), 0);
  ExpectInteger(Run("return 2^53"), int64_t{1} << 53);
  ExpectInteger(Run("return {1.5, 2.9}").items.at(1), 2);
}

TEST_F(LuaEngineTest, StringsBecomeBulkBinarySafe) {
  ExpectBulk(Run("return 'hello'"), "hello");
  ExpectBulk(Run("return ''"), "");
  ExpectBulk(Run("return 'a\\0b'"), std::string_view("a\0b", 3));
  ExpectBulk(Run("return '3'"), "3", "a numeric string stays a string");
}

TEST_F(LuaEngineTest, BooleansAndNil) {
  ExpectInteger(Run("return true"), 1);
  EXPECT_EQ(Run("return false").kind, Kind::kNull);
  EXPECT_EQ(Run("return nil").kind, Kind::kNull);
  EXPECT_EQ(Run("local x = 1").kind, Kind::kNull) << "no return value";
}

TEST_F(LuaEngineTest, StatusAndErrorTables) {
  const ScriptValue status = Run("return {ok = 'FINE'}");
  EXPECT_EQ(status.kind, Kind::kStatus);
  EXPECT_EQ(status.text, "FINE");
  const ScriptValue error = Run("return {err = 'MYERR something failed'}");
  EXPECT_EQ(error.kind, Kind::kError);
  EXPECT_EQ(error.text, "MYERR something failed");
  const ScriptValue status_reply = Run("return redis.status_reply('DONE')");
  EXPECT_EQ(status_reply.kind, Kind::kStatus);
  EXPECT_EQ(status_reply.text, "DONE");
  const ScriptValue error_reply = Run("return redis.error_reply('ERR custom')");
  EXPECT_EQ(error_reply.kind, Kind::kError);
  EXPECT_EQ(error_reply.text, "ERR custom");
  EXPECT_EQ(Run("return {err = 'E', ok = 'O'}").kind, Kind::kError) << "err wins";
  // A table whose ok is not a string is an ordinary (empty) array.
  const ScriptValue not_status = Run("return {ok = 1}");
  EXPECT_EQ(not_status.kind, Kind::kArray);
  EXPECT_TRUE(not_status.items.empty());
}

TEST_F(LuaEngineTest, ArraysStopAtTheFirstNil) {
  const ScriptValue array = Run("return {1, 'two', nil, 4}");
  ASSERT_EQ(array.kind, Kind::kArray);
  ASSERT_EQ(array.items.size(), 2u);
  ExpectInteger(array.items[0], 1);
  ExpectBulk(array.items[1], "two");
  const ScriptValue with_false = Run("return {1, false, 3, true}");
  ASSERT_EQ(with_false.items.size(), 4u) << "false does not end an array";
  EXPECT_EQ(with_false.items[1].kind, Kind::kNull);
  ExpectInteger(with_false.items[3], 1);
  EXPECT_TRUE(Run("return {}").items.empty());
  EXPECT_EQ(Run("return {}").kind, Kind::kArray);
  EXPECT_TRUE(Run("return {a = 1, b = 2}").items.empty()) << "string keys are not elements";
  EXPECT_EQ(Run("return {1, 2, a = 3}").items.size(), 2u);
}

TEST_F(LuaEngineTest, NestedArrays) {
  const ScriptValue nested = Run("return {1, {2, {'three', {ok = 'S'}}}, {err = 'E'}}");
  ASSERT_EQ(nested.kind, Kind::kArray);
  ASSERT_EQ(nested.items.size(), 3u);
  ExpectInteger(nested.items[0], 1);
  const ScriptValue& inner = nested.items[1];
  ASSERT_EQ(inner.kind, Kind::kArray);
  ASSERT_EQ(inner.items.size(), 2u);
  ExpectInteger(inner.items[0], 2);
  ASSERT_EQ(inner.items[1].items.size(), 2u);
  ExpectBulk(inner.items[1].items[0], "three");
  EXPECT_EQ(inner.items[1].items[1].kind, Kind::kStatus);
  EXPECT_EQ(nested.items[2].kind, Kind::kError);
  EXPECT_EQ(nested.items[2].text, "E");
}

TEST_F(LuaEngineTest, DeepTablesEndWithAnError) {
  const ScriptValue deep = Run("local t = {} local c = t for i = 1, 10 do c[1] = {} c = c[1] end return t");
  const ScriptValue* level = &deep;
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(level->kind, Kind::kArray) << i;
    ASSERT_EQ(level->items.size(), 1u) << i;
    level = &level->items[0];
  }
  EXPECT_EQ(level->kind, Kind::kArray);
  EXPECT_TRUE(level->items.empty());
}

// What follows runs in a child process: a run that corrupts memory or
// aborts the process fails the test instead of taking the whole test
// binary down. The child exits 0 when the run, and closing the engine
// afterwards, went fine.
using LuaEngineDeathTest = LuaEngineTest;

void RunThenClose(std::string_view body, int runs) {
  {
    LuaEngine lua(LuaLimits{});
    const std::string sha = std::get<0>(lua.Load(body));
    const LuaEngine::CallFn call = [](std::span<const std::string>) { return ScriptValue::Null(); };
    for (int i = 0; i < runs; ++i) {
      const LuaRun run = lua.Run(sha, {}, {}, call);
      if (run.reply.kind != Kind::kArray && run.reply.kind != Kind::kError) std::exit(2);
    }
    if (lua.Run(std::get<0>(lua.Load("return 7")), {}, {}, call).reply.integer != 7) std::exit(3);
  }
  std::exit(0);
}

// A returned table nested deeper than the Lua stack holds: converting it
// must check the stack (Redis's CVE-2021-32626), and answer the depth
// limit's error.
TEST_F(LuaEngineDeathTest, VeryDeepReturnedTableDoesNotOverflowTheLuaStack) {
  EXPECT_EXIT(RunThenClose("local t = {} local c = t for i = 1, 200 do c[1] = {} c = c[1] end return t", 20),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(RunThenClose("local t = {} t[1] = t return t", 20), ::testing::ExitedWithCode(0), "");
}

// The reply is built after the run, outside the sandbox's protected call
// and without the time limit: a metamethod on the returned table must not
// run then (Redis reads err and ok with rawget).
TEST_F(LuaEngineDeathTest, MetamethodsOfTheReturnedTableDoNotRun) {
  EXPECT_EXIT(RunThenClose("return setmetatable({}, {__index = function() error('boom') end})", 1),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(RunThenClose("error(setmetatable({}, {__index = function() error('boom') end}))", 1),
              ::testing::ExitedWithCode(0), "");
}

TEST_F(LuaEngineTest, MetamethodsDoNotMakeStatusOrError) {
  const ScriptValue reply = Run("return setmetatable({}, {__index = function() return 'x' end})");
  EXPECT_EQ(reply.kind, Kind::kArray) << "err and ok are the table's own fields: " << reply.text;
}

// --- Replies as Lua values (redis.call) -----------------------------------

TEST_F(LuaEngineTest, CallRepliesBecomeLuaValues) {
  ExpectBulk(Run("local v = redis.call('null') return type(v) .. ':' .. tostring(v)"), "boolean:false");
  ExpectBulk(Run("return type(redis.call('int'))"), "number");
  ExpectInteger(Run("return redis.call('int') + 1"), 43);
  ExpectInteger(Run("return redis.call('negative')"), -7);
  ExpectBulk(Run("return type(redis.call('bulk'))"), "string");
  ExpectBulk(Run("return redis.call('bulk')"), "hello");
  ExpectBulk(Run("return redis.call('empty')"), "");
  ExpectBulk(Run("local r = redis.call('status') return type(r) .. ':' .. r.ok"), "table:FINE");
  const ScriptValue status = Run("return redis.call('status')");
  EXPECT_EQ(status.kind, Kind::kStatus);
  EXPECT_EQ(status.text, "FINE");
  EXPECT_EQ(Run("return redis.call('null')").kind, Kind::kNull) << "false back to null";
}

TEST_F(LuaEngineTest, CallArraysBecomeTables) {
  const ScriptValue shape =
      Run("local a = redis.call('array') return {#a, a[1], a[2], type(a[3]), a[4][1].ok}");
  ASSERT_EQ(shape.items.size(), 5u);
  ExpectInteger(shape.items[0], 4);
  ExpectInteger(shape.items[1], 1);
  ExpectBulk(shape.items[2], "two");
  ExpectBulk(shape.items[3], "boolean", "a null inside an array is false");
  ExpectBulk(shape.items[4], "x");
  const ScriptValue round_trip = Run("return redis.call('array')");
  ASSERT_EQ(round_trip.items.size(), 4u);
  EXPECT_EQ(round_trip.items[2].kind, Kind::kNull);
  ASSERT_EQ(round_trip.items[3].items.size(), 1u);
  EXPECT_EQ(round_trip.items[3].items[0].kind, Kind::kStatus);
}

TEST_F(LuaEngineTest, CallErrorRaisesAndPCallReturnsIt) {
  const ScriptValue raised = Run("redis.call('error') return 'not reached'");
  EXPECT_EQ(raised.kind, Kind::kError);
  EXPECT_THAT(raised.text, HasSubstr("ERR boom"));
  EXPECT_EQ(server_.calls.size(), 1u);

  const ScriptValue caught = Run("local r = redis.pcall('error') return {type(r), r.err}");
  ASSERT_EQ(caught.items.size(), 2u);
  ExpectBulk(caught.items[0], "table");
  ExpectBulk(caught.items[1], "ERR boom");

  const ScriptValue returned = Run("return redis.pcall('error')");
  EXPECT_EQ(returned.kind, Kind::kError);
  EXPECT_EQ(returned.text, "ERR boom");

  // Lua's own pcall sees redis.call's error as the {err = ...} table.
  const ScriptValue lua_pcall =
      Run("local ok, e = pcall(redis.call, 'error') return {tostring(ok), type(e), e.err}");
  ASSERT_EQ(lua_pcall.items.size(), 3u);
  ExpectBulk(lua_pcall.items[0], "false");
  ExpectBulk(lua_pcall.items[1], "table");
  ExpectBulk(lua_pcall.items[2], "ERR boom");
  ExpectBulk(Run("return redis.pcall('bulk')"), "hello", "pcall of a good call is call");
}

TEST_F(LuaEngineTest, CallArgumentsAreStringsAndIntegers) {
  Run("return redis.call('echo', 'a', 42, -7, 3.5, '', 'b\\0c')");
  ASSERT_EQ(server_.calls.size(), 1u);
  EXPECT_EQ(server_.calls[0], (std::vector<std::string>{"echo", "a", "42", "-7", "3.5", "",
                                                        std::string("b\0c", 3)}));
  server_.calls.clear();
  Run("return redis.call('ECHO', 1e15)");
  ASSERT_EQ(server_.calls.size(), 1u);
  EXPECT_EQ(server_.calls[0][1], "1000000000000000") << "an integral number prints as an integer";
}

TEST_F(LuaEngineTest, CallWithWrongArgumentTypesErrors) {
  for (const char* body : {"return redis.call('echo', {})", "return redis.call('echo', true)",
                           "return redis.call('echo', nil)", "return redis.call({})",
                           "return redis.call('echo', function() end)"}) {
    const ScriptValue reply = Run(body);
    EXPECT_EQ(reply.kind, Kind::kError) << body;
    EXPECT_THAT(reply.text, HasSubstr("Lua redis lib command arguments must be strings or integers"))
        << body;
  }
  EXPECT_THAT(RunError("return redis.call()"), HasSubstr("Please specify at least one argument"));
  const ScriptValue caught = Run("return redis.pcall('echo', {})");
  EXPECT_EQ(caught.kind, Kind::kError);
  EXPECT_THAT(caught.text, HasSubstr("must be strings or integers"));
  ExpectBulk(Run("local r = redis.pcall() return type(r.err)"), "string");
  EXPECT_TRUE(server_.calls.empty()) << "a bad call never reaches the server";
}

TEST_F(LuaEngineTest, RedisHelpersCheckTheirArguments) {
  EXPECT_EQ(Run("return redis.error_reply({})").kind, Kind::kError);
  EXPECT_EQ(Run("return redis.status_reply()").kind, Kind::kError);
  EXPECT_EQ(Run("return redis.sha1hex()").kind, Kind::kError);
  ExpectInteger(Run("redis.log(redis.LOG_WARNING, 'hello') return 1"), 1);
}

// --- KEYS, ARGV and script errors -----------------------------------------

TEST_F(LuaEngineTest, KeysAndArgv) {
  const ScriptValue reply = Run("return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1], ARGV[3]}",
                                {"k1", std::string("k\0two", 5)}, {"a1", "a2", "a3"});
  ASSERT_EQ(reply.items.size(), 6u);
  ExpectInteger(reply.items[0], 2);
  ExpectInteger(reply.items[1], 3);
  ExpectBulk(reply.items[2], "k1");
  ExpectBulk(reply.items[3], std::string_view("k\0two", 5));
  ExpectBulk(reply.items[4], "a1");
  ExpectBulk(reply.items[5], "a3");
  const ScriptValue empty = Run("return {#KEYS, #ARGV, type(KEYS), type(ARGV)}");
  ASSERT_EQ(empty.items.size(), 4u);
  ExpectInteger(empty.items[0], 0);
  ExpectInteger(empty.items[1], 0);
  ExpectBulk(empty.items[2], "table");
  // The same script, other arguments: nothing carries over.
  ExpectBulk(Run("return ARGV[1]", {}, {"first"}), "first");
  ExpectBulk(Run("return ARGV[1]", {}, {"second"}), "second");
  EXPECT_EQ(Run("return ARGV[1]").kind, Kind::kNull);
}

TEST_F(LuaEngineTest, RuntimeErrorsNameTheScript) {
  const std::string sha = Load("error('boom')");
  const ScriptValue reply = Run("error('boom')");
  EXPECT_EQ(reply.kind, Kind::kError);
  EXPECT_THAT(reply.text, StartsWith("ERR "));
  EXPECT_THAT(reply.text, HasSubstr("boom"));
  EXPECT_THAT(reply.text, HasSubstr(sha));
  EXPECT_THAT(RunError("local t = nil return t.x"), StartsWith("ERR "));
  const ScriptValue table_error = Run("error({err = 'MYCODE raised'})");
  EXPECT_EQ(table_error.kind, Kind::kError);
  EXPECT_EQ(table_error.text, "MYCODE raised");
  EXPECT_EQ(lua_.stats().errors, 3u);
  ExpectInteger(Run("return 1"), 1);
}

// --- The sandbox ----------------------------------------------------------

TEST_F(LuaEngineTest, DangerousGlobalsAreAbsent) {
  for (const char* name : {"os", "io", "debug", "require", "dofile", "loadfile", "getfenv",
                           "setfenv", "load", "package", "module", "coroutine", "newproxy",
                           "collectgarbage", "gcinfo"}) {
    const std::string error = RunError(std::string("return type(") + name + ")");
    EXPECT_THAT(error, HasSubstr("nonexistent global variable")) << name;
    EXPECT_THAT(error, HasSubstr(name)) << name;
  }
  EXPECT_THAT(RunError("os.exit(1)"), HasSubstr("nonexistent global variable 'os'"));
  EXPECT_THAT(RunError("return io.open('/etc/passwd')"), HasSubstr("nonexistent global"));
  EXPECT_THAT(RunError("return require('os')"), HasSubstr("nonexistent global"));
}

TEST_F(LuaEngineTest, SafeLibrariesAreThere) {
  ExpectBulk(Run("return string.format('%s-%d', 'a', 5)"), "a-5");
  ExpectBulk(Run("return ('abc'):upper()"), "ABC", "string methods on values");
  ExpectInteger(Run("return math.max(3, 9)"), 9);
  ExpectBulk(Run("local t = {'b', 'a'} table.sort(t) return table.concat(t, ',')"), "a,b");
  ExpectInteger(Run("return tonumber('12') + select('#', 1, 2)"), 14);
  ExpectInteger(Run("local n = 0 for _ in pairs({1, 2, 3}) do n = n + 1 end return n"), 3);
  ExpectBulk(Run("return type(_G)"), "table");
  ExpectBulk(Run("return _G.KEYS == KEYS and 'same' or 'other'"), "same");
}

TEST_F(LuaEngineTest, LoadStringWorksInTheScriptsEnvironment) {
  ExpectInteger(Run("return loadstring('return 1 + 1')()"), 2);
  ExpectBulk(Run("return loadstring('return KEYS[1]')()", {"k"}), "k");
  const ScriptValue syntax = Run("local f, e = loadstring('return +') return {tostring(f), type(e)}");
  ASSERT_EQ(syntax.items.size(), 2u);
  ExpectBulk(syntax.items[0], "nil");
  ExpectBulk(syntax.items[1], "string");
}

TEST_F(LuaEngineTest, LoadStringRefusesBytecode) {
  const ScriptValue dumped =
      Run("local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}");
  ASSERT_EQ(dumped.items.size(), 2u);
  ExpectBulk(dumped.items[0], "nil");
  EXPECT_THAT(dumped.items[1].text, HasSubstr("bytecode"));
  const ScriptValue escape = Run("local f = loadstring('\\27Lua') return tostring(f)");
  ExpectBulk(escape, "nil");
}

TEST_F(LuaEngineTest, LoadStringChunkCannotCreateGlobals) {
  EXPECT_THAT(RunError("loadstring('leaked = 1')()"),
              HasSubstr("Script attempted to create global variable 'leaked'"));
  EXPECT_THAT(RunError("return loadstring('return undefined_name')()"),
              HasSubstr("nonexistent global variable 'undefined_name'"));
  EXPECT_THAT(RunError("return leaked"), HasSubstr("nonexistent global variable"));
}

TEST_F(LuaEngineTest, GlobalsCannotBeCreatedOrReadWhenUndefined) {
  EXPECT_THAT(RunError("x = 1"), HasSubstr("Script attempted to create global variable 'x'"));
  EXPECT_THAT(RunError("function f() end"), HasSubstr("Script attempted to create global variable 'f'"));
  EXPECT_THAT(RunError("_G.y = 1"), HasSubstr("Script attempted to create global variable 'y'"));
  EXPECT_THAT(RunError("return undefined_name"),
              HasSubstr("Script attempted to access nonexistent global variable 'undefined_name'"));
  ExpectInteger(Run("local x = 1 local function f() return x + 1 end return f()"), 2, "locals are fine");
}

TEST_F(LuaEngineTest, EnvironmentMetatableIsProtected) {
  ExpectBulk(Run("return tostring(getmetatable(_G))"), "false");
  EXPECT_THAT(RunError("setmetatable(_G, nil)"), HasSubstr("protected metatable"));
  EXPECT_THAT(RunError("x = 1"), HasSubstr("create global variable")) << "still guarded";
}

TEST_F(LuaEngineTest, RawsetGlobalsDoNotReachTheNextRun) {
  ExpectInteger(Run("rawset(_G, 'leaked', 7) return leaked"), 7, "visible within its own run");
  EXPECT_THAT(RunError("return leaked"), HasSubstr("nonexistent global variable 'leaked'"));
  // Nor do changes to the functions every run gets.
  Run("pcall = nil tostring = function() return 'hijacked' end");
  ExpectBulk(Run("return type(pcall)"), "function");
  ExpectBulk(Run("return tostring(1)"), "1");
  // Another script does not see it either.
  Run("rawset(_G, 'shared', 1) return 1");
  EXPECT_THAT(RunError("return shared + 0"), HasSubstr("nonexistent global variable 'shared'"));
}

TEST_F(LuaEngineTest, LibraryTablesAreReadOnly) {
  for (const char* body : {"string.upper = nil", "string.evil = 1", "table.insert = tostring",
                           "math.pi = 3", "redis.call = nil", "redis.extra = 1"}) {
    EXPECT_THAT(RunError(body), HasSubstr("Attempt to modify a readonly table")) << body;
  }
  ExpectBulk(Run("return string.upper('a')"), "A");
  ExpectBulk(Run("return type(redis.call)"), "function");
  // rawset on a proxy touches only this run's proxy.
  Run("rawset(string, 'upper', function() return 'hijacked' end) rawset(math, 'sneaky', 1) return 1");
  ExpectBulk(Run("return string.upper('a')"), "A");
  ExpectBulk(Run("return ('a'):upper()"), "A", "string methods are the real library");
  ExpectBulk(Run("return tostring(math.sneaky)"), "nil");
  ExpectBulk(Run("return tostring(getmetatable(string))"), "false");
  EXPECT_EQ(Run("return setmetatable(string, nil)").kind, Kind::kError);
}

TEST_F(LuaEngineTest, StringMetatableIsHidden) {
  ExpectBulk(Run("return tostring(getmetatable(''))"), "false");
  EXPECT_EQ(Run("return getmetatable('').__index").kind, Kind::kError);
  EXPECT_EQ(Run("return setmetatable('', {})").kind, Kind::kError);
  // String methods still work, and cannot be changed through a string value.
  EXPECT_EQ(Run("local s = '' s.upper = nil").kind, Kind::kError);
  ExpectBulk(Run("return ('x'):rep(3)"), "xxx");
}

// --- Limits ---------------------------------------------------------------

class LuaEngineTimeLimitTest : public LuaEngineTest {
 protected:
  LuaEngineTimeLimitTest() : LuaEngineTest({.time_limit_ms = 50}) {}
};

TEST_F(LuaEngineTimeLimitTest, EndlessLoopIsStopped) {
  const LuaRun run = RunFull("while true do end");
  EXPECT_EQ(run.reply.kind, Kind::kError);
  EXPECT_THAT(run.reply.text, HasSubstr("script-time-limit"));
  EXPECT_FALSE(run.keep_writes);
  EXPECT_EQ(lua_.stats().killed, 1u);
  const LuaRun next = RunFull("return 1");
  ExpectInteger(next.reply, 1);
  EXPECT_TRUE(next.keep_writes) << "the next run starts with a fresh allowance";
}

TEST_F(LuaEngineTimeLimitTest, PCallCannotSwallowTheStop) {
  const LuaRun run = RunFull("while true do pcall(function() while true do end end) end");
  EXPECT_EQ(run.reply.kind, Kind::kError);
  EXPECT_THAT(run.reply.text, HasSubstr("script-time-limit"));
  EXPECT_FALSE(run.keep_writes);
  const LuaRun xpcall = RunFull(
      "local n = 0 while true do xpcall(function() while true do n = n + 1 end end, function(e) return e end) end");
  EXPECT_THAT(xpcall.reply.text, HasSubstr("script-time-limit"));
  EXPECT_FALSE(xpcall.keep_writes);
  const LuaRun redis_pcall =
      RunFull("while true do redis.pcall('int') end");
  EXPECT_THAT(redis_pcall.reply.text, HasSubstr("script-time-limit"));
  ExpectInteger(RunFull("return 2").reply, 2);
  EXPECT_EQ(lua_.stats().killed, 3u);
}

TEST_F(LuaEngineTimeLimitTest, StoppedRunDiscardsWrites) {
  const LuaRun run = RunFull("redis.call('echo', 'write') while true do end");
  EXPECT_FALSE(run.keep_writes);
  EXPECT_EQ(server_.calls.size(), 1u);
  EXPECT_TRUE(RunFull("redis.call('echo', 'write') return 1").keep_writes);
  const LuaRun failed = RunFull("redis.call('echo', 'write') error('ordinary failure')");
  EXPECT_EQ(failed.reply.kind, Kind::kError);
  EXPECT_TRUE(failed.keep_writes) << "an ordinary error keeps the writes made so far, as in Redis";
}

class LuaEngineMemoryLimitTest : public LuaEngineTest {
 protected:
  LuaEngineMemoryLimitTest() : LuaEngineTest({.time_limit_ms = 60'000, .memory_limit_bytes = 1u << 20}) {}
};

TEST_F(LuaEngineMemoryLimitTest, HugeTableIsStopped) {
  const size_t before = lua_.memory_used();
  const LuaRun run = RunFull("local t = {} for i = 1, 1e8 do t[i] = i end return #t");
  EXPECT_EQ(run.reply.kind, Kind::kError);
  EXPECT_THAT(run.reply.text, HasSubstr("script-memory-limit"));
  EXPECT_FALSE(run.keep_writes);
  EXPECT_EQ(lua_.stats().killed, 1u);
  // Still usable, and the table is garbage.
  ExpectInteger(Run("return 1"), 1);
  ExpectInteger(Run("local t = {} for i = 1, 1000 do t[i] = i end return #t"), 1000);
  lua_.Flush();
  EXPECT_LT(lua_.memory_used(), before + (256u << 10));
}

TEST_F(LuaEngineMemoryLimitTest, HugeStringIsStopped) {
  const LuaRun run = RunFull("return string.rep('x', 100 * 1024 * 1024)");
  EXPECT_EQ(run.reply.kind, Kind::kError);
  EXPECT_THAT(run.reply.text, HasSubstr("script-memory-limit"));
  EXPECT_FALSE(run.keep_writes);
  ExpectBulk(Run("return string.rep('x', 3)"), "xxx");
}

TEST_F(LuaEngineMemoryLimitTest, PCallCannotHideRunningOutOfMemory) {
  const LuaRun run = RunFull(
      "local ok = pcall(function() local t = {} for i = 1, 1e8 do t[i] = i end end) return 'survived'");
  EXPECT_EQ(run.reply.kind, Kind::kError);
  EXPECT_THAT(run.reply.text, HasSubstr("script-memory-limit"));
  EXPECT_FALSE(run.keep_writes);
  ExpectInteger(Run("return 1"), 1);
}

// Bytes the C++ heap holds (glibc).
size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// A reply too large for what is left of the script's memory: the run stops,
// and nothing of the reply (held by C++ while it is turned into a Lua value)
// is left behind.
TEST_F(LuaEngineMemoryLimitTest, ReplyOverTheLimitLeaksNothing) {
  const LuaRun first = RunFull("local a = redis.call('big') local b = redis.call('big') return #a + #b");
  EXPECT_EQ(first.reply.kind, Kind::kError);
  EXPECT_THAT(first.reply.text, HasSubstr("script-memory-limit"));
  EXPECT_FALSE(first.keep_writes);
  const size_t before = HeapInUse();
  for (int i = 0; i < 20; ++i) {
    const LuaRun run = RunFull("local a = redis.call('big') local b = redis.call('big') return #a + #b");
    EXPECT_THAT(run.reply.text, HasSubstr("script-memory-limit"));
  }
  lua_.Flush();
  const size_t after = HeapInUse();
  EXPECT_LT(after, before + (4u << 20)) << "20 runs left " << (after - before) / 1024
                                        << " KB behind (600 KB a reply)";
  ExpectInteger(Run("return 1"), 1);
}

TEST_F(LuaEngineMemoryLimitTest, LimitIsPerRun) {
  // Ten runs of half the limit each: garbage from one run does not count
  // against the next.
  for (int i = 0; i < 10; ++i) {
    const LuaRun run = RunFull("local t = {} for i = 1, 20000 do t[i] = i end return #t");
    ExpectInteger(run.reply, 20000);
    EXPECT_TRUE(run.keep_writes);
  }
}

}  // namespace
}  // namespace lockerd::server::script
