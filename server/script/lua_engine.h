// The Lua 5.1 interpreter that runs EVAL scripts, with Redis's rules: the
// script is the body of a function named by its SHA1; KEYS and ARGV are its
// arguments; redis.call / redis.pcall reach the commands of script_keys.h;
// Lua values become replies as in Redis (lua_values.h).
//
// Sandbox: the base library without dofile, loadfile, load, getfenv and
// setfenv (loadstring refuses bytecode and gives the chunk the script's own
// environment), string, table and math behind read-only proxies, no os, io,
// debug, package or coroutine. Each run gets a fresh environment table, and
// creating or reading an undefined global is an error, so nothing one
// script leaves behind reaches another.
//
// Limits: a run longer than `time_limit_ms` or allocating more than
// `memory_limit_bytes` is stopped with an error (its writes are discarded);
// at most `cache_max` compiled scripts are kept, least recently used first
// out (EVALSHA of an evicted script answers NOSCRIPT, and clients send the
// body again).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "server/script/script_value.h"

struct lua_State;
struct lua_Debug;

namespace lockerd::server::script {

struct LuaLimits {
  int64_t time_limit_ms = 500;
  size_t memory_limit_bytes = 64u << 20;
  size_t cache_max = 1000;
  size_t body_bytes_max = 1u << 20;
};

struct LuaStats {
  uint64_t runs = 0;
  uint64_t errors = 0;
  uint64_t killed = 0;  // Over the time or memory limit.
  uint64_t evicted = 0;
  uint64_t compiled = 0;
};

// What a run produced: its reply, and whether its writes stand (false when
// it was stopped by a limit).
struct LuaRun {
  ScriptValue reply;
  bool keep_writes = true;
};

class LuaEngine {
 public:
  explicit LuaEngine(LuaLimits limits);
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  // Compiles and caches a body; the SHA1, or the error reply's text.
  std::variant<std::string, std::string> Load(std::string_view body);
  bool Exists(std::string_view sha) const;
  // The body of a cached script (null when not cached), so that a run
  // that waits for a majority can compile it again if it was evicted.
  std::shared_ptr<const std::string> Body(std::string_view sha) const;
  void Flush();

  // What redis.call does with its arguments.
  using CallFn = std::function<ScriptValue(std::span<const std::string>)>;
  // Runs a cached script (the caller checked Exists).
  LuaRun Run(std::string_view sha, std::span<const std::string> keys,
             std::span<const std::string> argv, const CallFn& call);

  size_t cached() const { return cache_.size(); }
  size_t memory_used() const { return memory_used_; }
  const LuaStats& stats() const { return stats_; }
  const LuaLimits& limits() const { return limits_; }

 private:
  struct Cached {
    int ref = 0;  // The compiled function, in the Lua registry.
    std::shared_ptr<const std::string> body;
    std::list<std::string>::iterator lru;
  };

  // The state's allocator, the time-limit hook and the cache's LRU order
  // (lua_engine.cc).
  static void* Allocate(void* self, void* block, size_t old_size, size_t new_size);
  static void Hook(lua_State* lua, lua_Debug* debug);
  void Touch(Cached& cached, const std::string& sha);

  // The sandbox (lua_sandbox.cc).
  void BuildSandbox();
  static int SafeLoadString(lua_State* lua);
  // Pushes a fresh environment for one run.
  void PushEnvironment(std::span<const std::string> keys, std::span<const std::string> argv);

  // The redis library (lua_redis_api.cc): sets the global `redis`, which
  // BuildSandbox then offers through a read-only proxy.
  void OpenRedisLibrary();
  static int RedisCall(lua_State* lua);
  static int RedisPCall(lua_State* lua);
  int Call(lua_State* lua, bool raise);

  // Wraps string.rep and the pattern functions with checks on their cost
  // (lua_string_guard.cc).
  void GuardStringLibrary();
  static int CheckedRep(lua_State* lua);

  LuaLimits limits_;
  lua_State* lua_ = nullptr;
  size_t memory_used_ = 0;
  size_t memory_base_ = 0;  // In use when the run started.
  bool limit_memory_ = false;
  bool killed_ = false;
  bool out_of_memory_ = false;
  std::chrono::steady_clock::time_point run_started_;
  const CallFn* call_ = nullptr;  // Set during Run.
  std::vector<std::string> call_args_;  // Call's, kept here: Lua errors longjmp.
  ScriptValue call_result_;
  std::unordered_map<std::string, Cached> cache_;
  std::list<std::string> lru_;  // Most recent first.
  LuaStats stats_;
};

}  // namespace lockerd::server::script
