// Fuzzes the Lua script path directly: server/script/lua_engine.h (the
// sandboxed interpreter, its conversions and limits) with redis.call going
// to server/commands/script_keys.h over a small snapshot of leases.
//
// Input: a Lua body, optionally followed by a last line "--@ [ro] numkeys
// key... arg..." (EVAL's arguments, split like an inline command; "ro"
// runs it read-only, as EVAL_RO). The line is a Lua comment, so the whole
// input is the body as a client would send it. Each declared key's lease
// (held or free, owner, token, time left) is derived from a hash of its
// name.
//
// The run has a 20 ms time limit and a 4 MB memory limit. It must not
// crash, leak or take much longer than its limit (LOCKERD_FUZZ_LUA_SLOW_MS,
// default 1000 ms); its reply must be well-formed RESP; its writes must be
// leases the cluster can accept (ttl within max-lease-ms, a token that is
// the lease's own or fresh, at most the new leases allowed, none when
// read-only); and a script run after it must find the sandbox intact.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cluster/txn.h"
#include "protocol/resp_writer.h"
#include "server/script/lua_engine.h"
#include "server/commands/script_keys.h"
#include "server/script/script_reply.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using lockerd::fuzz::Fail;
using lockerd::fuzz::Hash;
using lockerd::server::script::LuaEngine;
using lockerd::server::script::LuaLimits;
using lockerd::server::script::ScriptKeys;
using lockerd::server::script::ScriptKeysOptions;
using lockerd::server::script::ScriptValue;

constexpr int64_t kWallMs = 1'700'000'000'000;
constexpr int64_t kMaxLeaseMs = 60'000;
constexpr double kDrift = 0.01;
constexpr LuaLimits kLimits{/*time_limit_ms=*/20, /*memory_limit_bytes=*/4u << 20, /*cache_max=*/4,
                            /*body_bytes_max=*/1u << 20};

// Run after every fuzz script on the same engine: nothing it did may show.
constexpr std::string_view kCanary = R"(
local expected = {KEYS = true, ARGV = true, _G = true, redis = true, string = true, table = true,
                  math = true}
for name in pairs(_G) do
  if not expected[name] then return 'global left behind: ' .. tostring(name) end
end
local ok = type(redis) == 'table' and type(redis.call) == 'function'
  and type(redis.pcall) == 'function' and type(redis.sha1hex) == 'function'
  and string.rep('ab', 2) == 'abab' and string.len('abc') == 3 and ('x'):rep(3) == 'xxx'
  and string.format('%d', 7) == '7' and table.concat({'a', 'b'}, ',') == 'a,b'
  and math.floor(2.5) == 2 and math.max(1, 3) == 3
  and tostring(12) == '12' and tonumber('7') == 7 and type(pcall) == 'function'
  and select('#', 1, 2, 3) == 3 and #KEYS == 1 and KEYS[1] == 'canary' and #ARGV == 0
  and getmetatable('') == false and getmetatable(string) == false
  and not pcall(function() return undefined_global end)
  and loadstring('return KEYS[1]')() == 'canary'
if not ok then return 'sandbox changed' end
return redis.call('GET', 'canary')
)";

struct Eval {
  std::string_view body;
  bool read_only = false;
  std::vector<std::string> keys;
  std::vector<std::string> argv;
};

Eval ParseInput(std::string_view input) {
  Eval eval;
  eval.body = input;
  const size_t marker = input.rfind("\n--@");
  if (marker == std::string_view::npos) return eval;
  auto args = lockerd::fuzz::SplitArgs(input.substr(marker + 4));
  if (!args) return eval;
  size_t next = 0;
  if (next < args->size() && (*args)[next] == "ro") {
    eval.read_only = true;
    ++next;
  }
  size_t numkeys = 0;
  if (next < args->size()) {
    numkeys = static_cast<size_t>(lockerd::fuzz::LeadingNumber((*args)[next]).value_or(0));
    ++next;
  }
  for (; next < args->size(); ++next) {
    (eval.keys.size() < numkeys ? eval.keys : eval.argv).push_back((*args)[next]);
  }
  return eval;
}

lockerd::cluster::LeaseView LeaseOf(const std::string& key) {
  const uint64_t h = Hash(key);
  lockerd::cluster::LeaseView lease;
  if ((h & 3) == 0) return lease;  // A quarter of the keys are free.
  static const char* const kOwners[] = {"me", "other", ""};
  lease.held = true;
  lease.owner = ((h >> 2) & 3) == 3 ? key : kOwners[(h >> 2) & 3];
  lease.token = 1 + (h >> 8) % 1000;
  lease.remaining_ms = 1 + static_cast<int64_t>((h >> 20) % kMaxLeaseMs);
  return lease;
}

void CheckReply(const ScriptValue& reply, std::string_view body) {
  for (const auto version : {lockerd::protocol::RespVersion::kResp2, lockerd::protocol::RespVersion::kResp3}) {
    std::string bytes;
    lockerd::protocol::RespWriter writer(&bytes, version);
    lockerd::server::script::WriteScriptValue(writer, reply);
    lockerd::fuzz::Gradient(lockerd::fuzz::Resource::kReplyBytes, bytes.size());
    // The memory limit is meant to bound what a script can make the server
    // hold; its reply is built outside Lua's allocator, so check it too.
    if (bytes.size() > 16 * kLimits.memory_limit_bytes) {
      Fail("a script with a " + std::to_string(kLimits.memory_limit_bytes) + "-byte memory limit made a " +
               std::to_string(bytes.size()) + "-byte reply",
           body);
    }
    std::string error;
    const auto count = lockerd::fuzz::CheckReplies(bytes, &error);
    if (!count || *count != 1) Fail("a script's reply is not one well-formed RESP value: " + error, body);
  }
}

uint64_t CountValues(const ScriptValue& value) {
  uint64_t count = 1;
  for (const ScriptValue& item : value.items) count += CountValues(item);
  return count;
}

int64_t SlowMs() {
  static const int64_t slow = [] {
    const char* text = std::getenv("LOCKERD_FUZZ_LUA_SLOW_MS");
    return text != nullptr ? std::atoll(text) : 1000;
  }();
  return slow;
}

void Canary(LuaEngine& lua) {
  const auto loaded = lua.Load(kCanary);
  if (loaded.index() != 0) Fail("the canary script does not compile", std::get<1>(loaded));
  const std::vector<std::string> names = {"canary"};
  const std::vector<lockerd::cluster::LeaseView> leases = {{true, "c", 1, 1000}};
  const lockerd::cluster::TxnView view{names, leases, 1, kWallMs};
  ScriptKeys keys(view, ScriptKeysOptions{kMaxLeaseMs, kDrift, false});
  const auto run = lua.Run(std::get<0>(loaded), names, {},
                           [&keys](std::span<const std::string> args) { return keys.Call(args); });
  if (run.reply.kind != ScriptValue::Kind::kBulk || run.reply.text != "c") {
    Fail("the sandbox is not intact after a script", run.reply.text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Eval eval = ParseInput(input);
  LuaEngine lua(kLimits);
  const auto loaded = lua.Load(eval.body);
  if (loaded.index() == 1) {
    if (std::get<1>(loaded).rfind("ERR ", 0) != 0) Fail("a compile error is not an ERR reply", std::get<1>(loaded));
    Canary(lua);
    return 0;
  }
  const std::string& sha = std::get<0>(loaded);
  if (!lua.Exists(sha)) Fail("a loaded script is not in the cache", sha);

  // The snapshot: the declared keys, each once, as RunScript builds it.
  std::vector<std::string> names;
  for (const std::string& key : eval.keys) {
    if (std::find(names.begin(), names.end(), key) == names.end()) names.push_back(key);
  }
  std::vector<lockerd::cluster::LeaseView> leases;
  uint64_t counter = 0;
  size_t held_before = 0;
  for (const std::string& name : names) {
    leases.push_back(LeaseOf(name));
    counter = std::max(counter, leases.back().token);
    held_before += leases.back().held ? 1 : 0;
  }
  counter += Hash(eval.body) % 5000;
  const size_t maxkeys = held_before + Hash(input) % 3;  // Room for 0-2 new leases.
  const lockerd::cluster::TxnView view{names, leases, counter, kWallMs};
  ScriptKeysOptions options{kMaxLeaseMs, kDrift, eval.read_only, maxkeys - held_before, maxkeys};
  ScriptKeys keys(view, options);

  const auto started = std::chrono::steady_clock::now();
  const auto run = lua.Run(sha, eval.keys, eval.argv,
                           [&keys](std::span<const std::string> args) { return keys.Call(args); });
  const auto elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  const int64_t elapsed_ms = elapsed_us / 1000;
  lockerd::fuzz::Gradient(lockerd::fuzz::Resource::kTimeUs, static_cast<uint64_t>(elapsed_us));
  lockerd::fuzz::Gradient(lockerd::fuzz::Resource::kReplyValues, CountValues(run.reply));
  if (elapsed_ms > SlowMs()) {
    Fail("a script ran " + std::to_string(elapsed_ms) + " ms, past its 20 ms script-time-limit", eval.body);
  }
  CheckReply(run.reply, eval.body);

  const std::vector<lockerd::cluster::TxnWrite> writes = keys.Writes();
  if (writes.size() != names.size()) Fail("Writes() is not one write per declared key");
  size_t held_after = 0;
  for (size_t i = 0; i < writes.size(); ++i) {
    const auto& write = writes[i];
    const auto& before = leases[i];
    if (!write.write) {
      held_after += before.held ? 1 : 0;
      continue;
    }
    if (eval.read_only) Fail("a read-only script wrote", eval.body);
    if (!write.held) continue;
    ++held_after;
    if (write.ttl_ms < 1 || write.ttl_ms > kMaxLeaseMs) {
      Fail("a script wrote a lease with ttl " + std::to_string(write.ttl_ms), eval.body);
    }
    if (write.token == 0 || (write.token <= counter && !(before.held && write.token == before.token))) {
      Fail("a script wrote a lease whose token is neither its own nor fresh: " + std::to_string(write.token),
           eval.body);
    }
  }
  if (run.keep_writes && held_after > held_before && held_after - held_before > maxkeys - held_before) {
    Fail("a script took more new leases than maxkeys allows", eval.body);
  }
  Canary(lua);
  lua.Flush();
  return 0;
}
