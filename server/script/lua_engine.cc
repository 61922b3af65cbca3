// LuaEngine's life and its runs: the Lua state and its allocator (which
// enforces script-memory-limit), the count hook (script-time-limit), the
// cache of compiled scripts by SHA1 with LRU eviction, and Run. The sandbox
// (lua_sandbox.cc), the redis.* functions (lua_redis_api.cc), the string
// library's cost checks (lua_string_guard.cc) and the conversions between
// Lua values and replies (lua_values.cc) have files of their own.
#include "server/script/lua_engine.h"

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "base/check.h"
#include "server/script/lua_registry.h"
#include "server/script/lua_values.h"
#include "server/script/sha1.h"
#include "base/errors.h"

namespace lockerd::server::script {
namespace {

// How often (in VM instructions) a run checks its clock.
constexpr int kHookInstructions = 10'000;

}  // namespace

LuaEngine::LuaEngine(LuaLimits limits) : limits_(limits) {
  lua_ = lua_newstate(&LuaEngine::Allocate, this);
  CHECK(lua_ != nullptr);
  BuildSandbox();
}

LuaEngine::~LuaEngine() { lua_close(lua_); }

void* LuaEngine::Allocate(void* self_pointer, void* block, size_t old_size, size_t new_size) {
  auto* self = static_cast<LuaEngine*>(self_pointer);
  if (block == nullptr) old_size = 0;
  if (new_size == 0) {
    std::free(block);
    self->memory_used_ -= old_size;
    return nullptr;
  }
  if (self->limit_memory_ && new_size > old_size &&
      self->memory_used_ + (new_size - old_size) > self->memory_base_ + self->limits_.memory_limit_bytes) {
    self->out_of_memory_ = true;
    return nullptr;
  }
  void* resized = std::realloc(block, new_size);
  if (resized != nullptr) self->memory_used_ = self->memory_used_ - old_size + new_size;
  return resized;
}

void LuaEngine::Hook(lua_State* lua, lua_Debug*) {
  lua_getfield(lua, LUA_REGISTRYINDEX, kEngineKey);
  auto* self = static_cast<LuaEngine*>(lua_touserdata(lua, -1));
  lua_pop(lua, 1);
  const auto elapsed = std::chrono::steady_clock::now() - self->run_started_;
  if (!self->killed_ && elapsed < std::chrono::milliseconds(self->limits_.time_limit_ms)) return;
  // From now on every instruction fails, so that a pcall inside the script
  // cannot swallow the stop.
  self->killed_ = true;
  lua_sethook(lua, &LuaEngine::Hook, LUA_MASKCOUNT, 1);
  luaL_error(lua, "script stopped: it ran past script-time-limit");
}

std::variant<std::string, std::string> LuaEngine::Load(std::string_view body) {
  using Result = std::variant<std::string, std::string>;
  if (body.size() > limits_.body_bytes_max) {
    return Result(std::in_place_index<1>, errors::ScriptTooLong(limits_.body_bytes_max));
  }
  std::string sha = Sha1Hex(body);
  if (const auto it = cache_.find(sha); it != cache_.end()) {
    Touch(it->second, sha);
    return Result(std::in_place_index<0>, std::move(sha));
  }
  if (!body.empty() && body[0] == LUA_SIGNATURE[0]) {
    return Result(std::in_place_index<1>, errors::ScriptCompile("user_script: bytecode is not allowed"));
  }
  if (luaL_loadbuffer(lua_, body.data(), body.size(), "@user_script") != 0) {
    const char* message = lua_tostring(lua_, -1);
    std::string error = errors::ScriptCompile(message != nullptr ? message : "unknown error");
    lua_settop(lua_, 0);
    return Result(std::in_place_index<1>, std::move(error));
  }
  ++stats_.compiled;
  const int ref = luaL_ref(lua_, LUA_REGISTRYINDEX);
  lru_.push_front(sha);
  cache_.emplace(sha, Cached{ref, std::make_shared<const std::string>(body), lru_.begin()});
  while (cache_.size() > limits_.cache_max) {
    const std::string oldest = lru_.back();
    lru_.pop_back();
    luaL_unref(lua_, LUA_REGISTRYINDEX, cache_.at(oldest).ref);
    cache_.erase(oldest);
    ++stats_.evicted;
  }
  return Result(std::in_place_index<0>, std::move(sha));
}

namespace {
std::string LowerSha(std::string_view sha) {
  std::string lower(sha);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return lower;
}
}  // namespace

bool LuaEngine::Exists(std::string_view sha) const {
  return sha.size() == 40 && cache_.count(LowerSha(sha)) != 0;
}

std::shared_ptr<const std::string> LuaEngine::Body(std::string_view sha) const {
  if (sha.size() != 40) return nullptr;
  const auto it = cache_.find(LowerSha(sha));
  return it == cache_.end() ? nullptr : it->second.body;
}

void LuaEngine::Touch(Cached& cached, const std::string& sha) {
  lru_.erase(cached.lru);
  lru_.push_front(sha);
  cached.lru = lru_.begin();
}

void LuaEngine::Flush() {
  for (const auto& [sha, cached] : cache_) luaL_unref(lua_, LUA_REGISTRYINDEX, cached.ref);
  cache_.clear();
  lru_.clear();
  lua_gc(lua_, LUA_GCCOLLECT, 0);
}

LuaRun LuaEngine::Run(std::string_view sha_text, std::span<const std::string> keys,
                      std::span<const std::string> argv, const CallFn& call) {
  const std::string sha = LowerSha(sha_text);
  const auto it = cache_.find(sha);
  CHECK(it != cache_.end());
  Touch(it->second, sha);
  ++stats_.runs;
  lua_State* lua = lua_;
  lua_settop(lua, 0);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, it->second.ref);
  PushEnvironment(keys, argv);
  lua_pushvalue(lua, -1);
  lua_setfield(lua, LUA_REGISTRYINDEX, kEnvKey);
  lua_setfenv(lua, -2);

  killed_ = false;
  out_of_memory_ = false;
  call_ = &call;
  run_started_ = std::chrono::steady_clock::now();
  memory_base_ = memory_used_;
  limit_memory_ = true;
  lua_sethook(lua, &LuaEngine::Hook, LUA_MASKCOUNT, kHookInstructions);
  const int status = lua_pcall(lua, 0, 1, 0);
  lua_sethook(lua, nullptr, 0, 0);
  limit_memory_ = false;
  call_ = nullptr;

  LuaRun run;
  if (killed_ || out_of_memory_) {
    ++stats_.killed;
    run.keep_writes = false;
    run.reply = ScriptValue::Error(killed_ ? errors::ScriptTimedOut(limits_.time_limit_ms)
                                           : errors::ScriptOutOfMemory(limits_.memory_limit_bytes));
  } else if (status != 0) {
    ++stats_.errors;
    if (lua_type(lua, -1) == LUA_TTABLE) {
      size_t budget = limits_.memory_limit_bytes;
      run.reply = ToValue(lua, -1, 0, &budget);  // An error raised by redis.call, or error({err=...}).
      if (!run.reply.IsError()) run.reply = ScriptValue::Error(std::string(errors::kScriptTableWithoutErr));
    } else {
      const char* message = lua_tostring(lua, -1);
      run.reply = ScriptValue::Error(errors::ScriptRuntime(message ? message : "unknown error", sha));
    }
  } else {
    size_t budget = limits_.memory_limit_bytes;
    run.reply = ToValue(lua, -1, 0, &budget);
    if (run.reply.IsError() && run.reply.text == errors::kScriptReplyTooBig) {
      run.reply.text += " (" + std::to_string(limits_.memory_limit_bytes) + " bytes)";
    }
  }
  lua_settop(lua, 0);
  lua_pushnil(lua);
  lua_setfield(lua, LUA_REGISTRYINDEX, kEnvKey);
  lua_gc(lua, LUA_GCSTEP, 0);
  return run;
}

}  // namespace lockerd::server::script
