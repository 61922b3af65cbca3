#include "server/script/lua_engine.h"

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "base/errors.h"
#include "cluster/check.h"
#include "server/script/sha1.h"

namespace lockerd::server::script {
namespace {

// Registry fields of the sandbox.
constexpr const char* kBaseKey = "lockerd.base";          // Safe base functions.
constexpr const char* kLibsKey = "lockerd.libs";          // name -> real library table.
constexpr const char* kProxyMetaKey = "lockerd.proxymeta";  // name -> proxy metatable.
constexpr const char* kEnvMetaKey = "lockerd.envmeta";    // A run's environment's metatable.
constexpr const char* kEnvKey = "lockerd.env";            // The running script's environment.

constexpr const char* kSafeBase[] = {
    "assert", "error",  "ipairs",   "next",     "pairs",  "pcall",        "rawequal", "rawget",
    "rawset", "select", "tonumber", "tostring", "type",   "unpack",       "xpcall",   "getmetatable",
    "setmetatable", "_VERSION"};
constexpr const char* kLibraries[] = {"string", "table", "math", "redis"};

// How often (in VM instructions) a run checks its clock.
constexpr int kHookInstructions = 10'000;
// Nesting a reply may have, either way.
constexpr int kValueDepthMax = 64;

int ReadOnlyTable(lua_State* lua) { return luaL_error(lua, "Attempt to modify a readonly table"); }

int UndefinedGlobal(lua_State* lua) {
  return luaL_error(lua, "Script attempted to access nonexistent global variable '%s'",
                    lua_tostring(lua, 2) ? lua_tostring(lua, 2) : "?");
}

// __index of a run's environment (upvalues: the safe base functions, and
// the libraries' proxy metatables).
int EnvironmentIndex(lua_State* lua) {
  lua_pushvalue(lua, 2);
  lua_rawget(lua, lua_upvalueindex(1));
  if (!lua_isnil(lua, -1)) return 1;
  lua_pop(lua, 1);
  lua_pushvalue(lua, 2);
  lua_rawget(lua, lua_upvalueindex(2));
  if (lua_isnil(lua, -1)) return UndefinedGlobal(lua);
  lua_newtable(lua);  // This run's read-only proxy of the library.
  lua_insert(lua, -2);
  lua_setmetatable(lua, -2);
  lua_pushvalue(lua, 2);
  lua_pushvalue(lua, -2);
  lua_rawset(lua, 1);  // Found again without __index for the rest of the run.
  return 1;
}

int NewGlobal(lua_State* lua) {
  return luaL_error(lua, "Script attempted to create global variable '%s'",
                    lua_tostring(lua, 2) ? lua_tostring(lua, 2) : "?");
}

int ErrorReply(lua_State* lua) {
  luaL_checkstring(lua, 1);
  lua_newtable(lua);
  lua_pushvalue(lua, 1);
  lua_setfield(lua, -2, "err");
  return 1;
}

int StatusReply(lua_State* lua) {
  luaL_checkstring(lua, 1);
  lua_newtable(lua);
  lua_pushvalue(lua, 1);
  lua_setfield(lua, -2, "ok");
  return 1;
}

int Sha1HexLua(lua_State* lua) {
  size_t length = 0;
  const char* bytes = luaL_checklstring(lua, 1, &length);
  char hex[41];
  const std::string digest = Sha1Hex(std::string_view(bytes, length));
  std::snprintf(hex, sizeof hex, "%s", digest.c_str());
  lua_pushstring(lua, hex);
  return 1;
}

int Log(lua_State* lua) {
  luaL_checkinteger(lua, 1);
  return 0;  // Accepted and dropped: scripts do not write to the server's log.
}

int SetResp(lua_State* lua) {
  if (luaL_checkinteger(lua, 1) != 2) return luaL_error(lua, "lockerd scripts speak RESP2 only");
  return 0;
}

int NoOp(lua_State*) { return 0; }

int ReturnTrue(lua_State* lua) {
  lua_pushboolean(lua, 1);
  return 1;
}

void SetInteger(lua_State* lua, const char* name, lua_Integer value) {
  lua_pushinteger(lua, value);
  lua_setfield(lua, -2, name);
}

void SetFunction(lua_State* lua, const char* name, lua_CFunction function) {
  lua_pushcfunction(lua, function);
  lua_setfield(lua, -2, name);
}


// A Lua value as a reply (Redis's conversion rules). `budget` is what the
// reply may still take in bytes: a table referenced many times is copied
// each time, so a small Lua value can become a huge reply.
ScriptValue ToValue(lua_State* lua, int index, int depth, size_t* budget) {
  if (*budget < sizeof(ScriptValue)) return ScriptValue::Error(std::string(errors::kScriptReplyTooBig));
  *budget -= sizeof(ScriptValue);
  switch (lua_type(lua, index)) {
    case LUA_TNUMBER: {
      const lua_Number number = lua_tonumber(lua, index);
      if (std::isnan(number)) return ScriptValue::Integer(0);
      if (number >= 9.2e18) return ScriptValue::Integer(INT64_MAX);
      if (number <= -9.2e18) return ScriptValue::Integer(INT64_MIN);
      return ScriptValue::Integer(static_cast<int64_t>(number));
    }
    case LUA_TSTRING: {
      size_t length = 0;
      const char* bytes = lua_tolstring(lua, index, &length);
      if (*budget < length) return ScriptValue::Error(std::string(errors::kScriptReplyTooBig));
      *budget -= length;
      return ScriptValue::Bulk(std::string(bytes, length));
    }
    case LUA_TBOOLEAN:
      return lua_toboolean(lua, index) ? ScriptValue::Integer(1) : ScriptValue::Null();
    case LUA_TTABLE: {
      if (depth >= kValueDepthMax || !lua_checkstack(lua, 3)) {
        return ScriptValue::Error(std::string(errors::kScriptTooDeep));
      }
      if (index < 0) index = lua_gettop(lua) + index + 1;
      lua_pushliteral(lua, "err");
      lua_rawget(lua, index);
      if (lua_type(lua, -1) == LUA_TSTRING) {
        ScriptValue error = ScriptValue::Error(lua_tostring(lua, -1));
        lua_pop(lua, 1);
        return error;
      }
      lua_pop(lua, 1);
      lua_pushliteral(lua, "ok");
      lua_rawget(lua, index);
      if (lua_type(lua, -1) == LUA_TSTRING) {
        ScriptValue status = ScriptValue::Status(lua_tostring(lua, -1));
        lua_pop(lua, 1);
        return status;
      }
      lua_pop(lua, 1);
      std::vector<ScriptValue> items;
      for (int i = 1;; ++i) {
        lua_rawgeti(lua, index, i);
        if (lua_isnil(lua, -1)) {
          lua_pop(lua, 1);
          break;
        }
        ScriptValue item = ToValue(lua, -1, depth + 1, budget);
        lua_pop(lua, 1);
        // Too deep (a table that contains itself) or too big: the whole
        // reply is the error, not an array nested to the limit.
        if (item.IsError() && (item.text == errors::kScriptTooDeep || item.text == errors::kScriptReplyTooBig)) return item;
        items.push_back(std::move(item));
      }
      return ScriptValue::Array(std::move(items));
    }
    default:
      return ScriptValue::Null();
  }
}

// A reply as a Lua value (Redis's conversion rules).
void PushValue(lua_State* lua, const ScriptValue& value, int depth) {
  luaL_checkstack(lua, 4, "reply too deeply nested");
  switch (value.kind) {
    case ScriptValue::Kind::kNull:
    case ScriptValue::Kind::kNullArray:
      lua_pushboolean(lua, 0);
      return;
    case ScriptValue::Kind::kInteger:
      lua_pushnumber(lua, static_cast<lua_Number>(value.integer));
      return;
    case ScriptValue::Kind::kBulk:
      lua_pushlstring(lua, value.text.data(), value.text.size());
      return;
    case ScriptValue::Kind::kStatus:
    case ScriptValue::Kind::kError:
      lua_createtable(lua, 0, 1);
      lua_pushlstring(lua, value.text.data(), value.text.size());
      lua_setfield(lua, -2, value.kind == ScriptValue::Kind::kStatus ? "ok" : "err");
      return;
    case ScriptValue::Kind::kArray:
      lua_createtable(lua, static_cast<int>(value.items.size()), 0);
      for (size_t i = 0; i < value.items.size() && depth < kValueDepthMax; ++i) {
        PushValue(lua, value.items[i], depth + 1);
        lua_rawseti(lua, -2, static_cast<int>(i + 1));
      }
      return;
  }
}

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
  lua_getfield(lua, LUA_REGISTRYINDEX, "lockerd.engine");
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

// script-time-limit is a count hook, which runs between VM instructions
// only: a C function of the string library that runs for seconds inside one
// call would stall every client. Two can: string.rep (n iterations even
// when the result is empty) and pattern matching, which backtracks in time
// that grows as the subject's length to the power of the pattern's
// variable-length items (a*, .-, %d+ ...). Both are checked before they run.
namespace {

}  // namespace

int LuaEngine::CheckedRep(lua_State* lua) {
  size_t length = 0;
  luaL_checklstring(lua, 1, &length);
  const lua_Integer count = luaL_checkinteger(lua, 2);
  auto* self = static_cast<LuaEngine*>(lua_touserdata(lua, lua_upvalueindex(2)));
  if (count <= 0 || length == 0) {
    lua_pushliteral(lua, "");
    return 1;
  }
  if (static_cast<uint64_t>(count) > self->limits_.memory_limit_bytes / length) {
    self->out_of_memory_ = true;  // As if the allocation had failed: the run is stopped.
    return luaL_error(lua, "string.rep: the result would pass script-memory-limit");
  }
  lua_pushvalue(lua, lua_upvalueindex(1));
  lua_insert(lua, 1);
  lua_call(lua, lua_gettop(lua) - 1, LUA_MULTRET);
  return lua_gettop(lua);
}

namespace {

// The worst-case steps of matching `pattern` on `length` bytes, from the
// pattern's items (Lua 5.1's syntax: a character, `.`, a %class or a [set],
// each maybe followed by *, +, - or ?): a match backtracks through every
// split of the subject among the quantified items, and compares each
// single item at every start.
double PatternCost(std::string_view pattern, size_t length) {
  int quantified = 0;
  int single = 0;
  size_t i = (!pattern.empty() && pattern[0] == '^') ? 1 : 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '(' || c == ')' || (c == '$' && i + 1 == pattern.size())) {
      ++i;
      continue;
    }
    size_t end = i + 1;  // One past the item.
    if (c == '%' && i + 1 < pattern.size()) {
      const char kind = pattern[i + 1];
      if (kind == 'b') {  // %bxy: a balanced match scans the subject.
        ++quantified;
        i += 4;
        continue;
      }
      end = i + 2;
      if (kind == 'f') {  // %f[set]: a frontier, then its set.
        end = i + 2;
        if (end < pattern.size() && pattern[end] == '[') {
          ++end;
          if (end < pattern.size() && pattern[end] == '^') ++end;
          if (end < pattern.size() && pattern[end] == ']') ++end;
          while (end < pattern.size() && pattern[end] != ']') end += pattern[end] == '%' ? 2 : 1;
          ++end;
        }
        i = end;
        continue;
      }
    } else if (c == '[') {
      end = i + 1;
      if (end < pattern.size() && pattern[end] == '^') ++end;
      if (end < pattern.size() && pattern[end] == ']') ++end;  // A literal ] first.
      while (end < pattern.size() && pattern[end] != ']') end += pattern[end] == '%' ? 2 : 1;
      ++end;
    }
    if (end < pattern.size() &&
        (pattern[end] == '*' || pattern[end] == '+' || pattern[end] == '-' || pattern[end] == '?')) {
      ++quantified;
      ++end;
    } else {
      ++single;
    }
    i = end;
  }
  const double n = static_cast<double>(length) + 1;
  return std::pow(n, quantified + 1) * std::max(single, 1);
}

// Steps of pattern matching one call may take (well under a second).
constexpr double kPatternStepsMax = 1e9;

int CheckedPattern(lua_State* lua) {
  size_t length = 0;
  luaL_checklstring(lua, 1, &length);
  size_t pattern_length = 0;
  const char* pattern = luaL_checklstring(lua, 2, &pattern_length);
  // string.find's 4th argument asks for a plain search (gsub's is a count).
  const bool find = lua_toboolean(lua, lua_upvalueindex(2));
  const bool plain = find && lua_gettop(lua) >= 4 && lua_toboolean(lua, 4);
  const double cost = plain ? (static_cast<double>(length) + 1) * static_cast<double>(pattern_length + 1)
                            : PatternCost({pattern, pattern_length}, length);
  if (cost > kPatternStepsMax) {
    return luaL_error(lua,
                      "pattern too costly for script-time-limit to stop: %d bytes searched with a "
                      "%d-byte pattern (C code cannot be interrupted)",
                      static_cast<int>(length), static_cast<int>(pattern_length));
  }
  lua_pushvalue(lua, lua_upvalueindex(1));
  lua_insert(lua, 1);
  lua_call(lua, lua_gettop(lua) - 1, LUA_MULTRET);
  return lua_gettop(lua);
}

}  // namespace

void LuaEngine::GuardStringLibrary() {
  lua_State* lua = lua_;
  lua_getglobal(lua, LUA_STRLIBNAME);
  lua_getfield(lua, -1, "rep");
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, &LuaEngine::CheckedRep, 2);
  lua_setfield(lua, -2, "rep");
  for (const char* name : {"find", "match", "gmatch", "gsub"}) {
    lua_getfield(lua, -1, name);
    lua_pushboolean(lua, std::string_view(name) == "find");
    lua_pushcclosure(lua, CheckedPattern, 2);
    lua_setfield(lua, -2, name);
  }
  lua_pop(lua, 1);
}

void LuaEngine::BuildSandbox() {
  lua_State* lua = lua_;
  lua_pushlightuserdata(lua, this);
  lua_setfield(lua, LUA_REGISTRYINDEX, "lockerd.engine");
  for (const auto& [name, open] : {std::pair<const char*, lua_CFunction>{"", luaopen_base},
                                   {LUA_TABLIBNAME, luaopen_table},
                                   {LUA_STRLIBNAME, luaopen_string},
                                   {LUA_MATHLIBNAME, luaopen_math}}) {
    lua_pushcfunction(lua, open);
    lua_pushstring(lua, name);
    lua_call(lua, 1, 0);
  }
  GuardStringLibrary();

  // The redis library.
  lua_newtable(lua);
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, &LuaEngine::RedisCall, 1);
  lua_setfield(lua, -2, "call");
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, &LuaEngine::RedisPCall, 1);
  lua_setfield(lua, -2, "pcall");
  SetFunction(lua, "error_reply", ErrorReply);
  SetFunction(lua, "status_reply", StatusReply);
  SetFunction(lua, "sha1hex", Sha1HexLua);
  SetFunction(lua, "log", Log);
  SetFunction(lua, "setresp", SetResp);
  SetFunction(lua, "set_repl", NoOp);
  SetFunction(lua, "replicate_commands", ReturnTrue);
  SetInteger(lua, "LOG_DEBUG", 0);
  SetInteger(lua, "LOG_VERBOSE", 1);
  SetInteger(lua, "LOG_NOTICE", 2);
  SetInteger(lua, "LOG_WARNING", 3);
  SetInteger(lua, "REPL_NONE", 0);
  SetInteger(lua, "REPL_AOF", 1);
  SetInteger(lua, "REPL_SLAVE", 2);
  SetInteger(lua, "REPL_REPLICA", 2);
  SetInteger(lua, "REPL_ALL", 3);
  lua_setglobal(lua, "redis");

  // The safe part of the base library, copied into every run's environment.
  lua_newtable(lua);
  for (const char* name : kSafeBase) {
    lua_getglobal(lua, name);
    CHECK(!lua_isnil(lua, -1));
    lua_setfield(lua, -2, name);
  }
  lua_pushcfunction(lua, &LuaEngine::SafeLoadString);
  lua_setfield(lua, -2, "loadstring");
  lua_setfield(lua, LUA_REGISTRYINDEX, kBaseKey);

  // Libraries, and one read-only proxy metatable each.
  lua_newtable(lua);  // libs
  lua_newtable(lua);  // proxy metatables
  for (const char* name : kLibraries) {
    lua_getglobal(lua, name);
    lua_pushvalue(lua, -1);
    lua_setfield(lua, -4, name);  // libs[name] = library
    lua_createtable(lua, 0, 3);   // its proxies' metatable
    lua_insert(lua, -2);
    lua_setfield(lua, -2, "__index");
    lua_pushcfunction(lua, ReadOnlyTable);
    lua_setfield(lua, -2, "__newindex");
    lua_pushboolean(lua, 0);
    lua_setfield(lua, -2, "__metatable");
    lua_setfield(lua, -2, name);
  }
  lua_setfield(lua, LUA_REGISTRYINDEX, kProxyMetaKey);
  lua_setfield(lua, LUA_REGISTRYINDEX, kLibsKey);

  // Strings' metatable (its __index is the real string library) is hidden.
  lua_pushstring(lua, "");
  CHECK(lua_getmetatable(lua, -1));
  lua_pushboolean(lua, 0);
  lua_setfield(lua, -2, "__metatable");
  lua_pop(lua, 2);

  // A run's environment: the base functions and libraries are found
  // through __index (whose tables no script can reach: the metatable is
  // hidden), each library as a read-only proxy made on first use in that
  // run; any other undefined global is an error, either way.
  lua_createtable(lua, 0, 3);
  lua_getfield(lua, LUA_REGISTRYINDEX, kBaseKey);
  lua_getfield(lua, LUA_REGISTRYINDEX, kProxyMetaKey);
  lua_pushcclosure(lua, EnvironmentIndex, 2);
  lua_setfield(lua, -2, "__index");
  lua_pushcfunction(lua, NewGlobal);
  lua_setfield(lua, -2, "__newindex");
  lua_pushboolean(lua, 0);
  lua_setfield(lua, -2, "__metatable");
  lua_setfield(lua, LUA_REGISTRYINDEX, kEnvMetaKey);

  // The real globals are emptied: nothing can reach them from a script
  // (getfenv is not offered), and nothing should live there.
  lua_pushvalue(lua, LUA_GLOBALSINDEX);
  lua_pushnil(lua);
  std::vector<std::string> names;
  while (lua_next(lua, -2) != 0) {
    lua_pop(lua, 1);
    if (lua_type(lua, -1) == LUA_TSTRING) names.emplace_back(lua_tostring(lua, -1));
  }
  for (const std::string& name : names) {
    lua_pushnil(lua);
    lua_setfield(lua, -2, name.c_str());
  }
  lua_pop(lua, 1);
  lua_settop(lua, 0);
}

void LuaEngine::PushEnvironment(std::span<const std::string> keys, std::span<const std::string> argv) {
  lua_State* lua = lua_;
  lua_createtable(lua, 0, 8);
  const int env = lua_gettop(lua);
  for (const auto& [name, values] : {std::pair{"KEYS", keys}, std::pair{"ARGV", argv}}) {
    lua_createtable(lua, static_cast<int>(values.size()), 0);
    for (size_t i = 0; i < values.size(); ++i) {
      lua_pushlstring(lua, values[i].data(), values[i].size());
      lua_rawseti(lua, -2, static_cast<int>(i + 1));
    }
    lua_setfield(lua, env, name);
  }
  lua_pushvalue(lua, env);
  lua_setfield(lua, env, "_G");
  lua_getfield(lua, LUA_REGISTRYINDEX, kEnvMetaKey);
  lua_setmetatable(lua, env);
}

int LuaEngine::SafeLoadString(lua_State* lua) {
  size_t length = 0;
  const char* chunk = luaL_checklstring(lua, 1, &length);
  if (length > 0 && chunk[0] == LUA_SIGNATURE[0]) {
    lua_pushnil(lua);
    lua_pushstring(lua, "loadstring: bytecode is not allowed");
    return 2;
  }
  if (luaL_loadbuffer(lua, chunk, length, luaL_optstring(lua, 2, "=(loadstring)")) != 0) {
    lua_pushnil(lua);
    lua_insert(lua, -2);
    return 2;
  }
  // The chunk runs in the calling script's environment, never the real one.
  lua_getfield(lua, LUA_REGISTRYINDEX, kEnvKey);
  lua_setfenv(lua, -2);
  return 1;
}

int LuaEngine::RedisCall(lua_State* lua) {
  return static_cast<LuaEngine*>(lua_touserdata(lua, lua_upvalueindex(1)))->Call(lua, true);
}

int LuaEngine::RedisPCall(lua_State* lua) {
  return static_cast<LuaEngine*>(lua_touserdata(lua, lua_upvalueindex(1)))->Call(lua, false);
}

int LuaEngine::Call(lua_State* lua, bool raise) {
  bool raise_error = false;
  {
    // C++ objects live only in this scope: lua_error below jumps out of
    // the function without running destructors.
    const int count = lua_gettop(lua);
    std::vector<std::string>& args = call_args_;
    args.clear();
    ScriptValue& result = call_result_;
    result = ScriptValue::Null();
    bool bad_argument = count == 0;
    for (int i = 1; i <= count && !bad_argument; ++i) {
      if (lua_type(lua, i) == LUA_TSTRING) {
        size_t length = 0;
        const char* bytes = lua_tolstring(lua, i, &length);
        args.emplace_back(bytes, length);
      } else if (lua_type(lua, i) == LUA_TNUMBER) {
        // Integers as Redis prints them; other numbers with full precision.
        const lua_Number number = lua_tonumber(lua, i);
        char text[64];
        if (std::floor(number) == number && std::fabs(number) < 9e18) {
          std::snprintf(text, sizeof text, "%lld", static_cast<long long>(number));
        } else {
          std::snprintf(text, sizeof text, "%.17g", number);
        }
        args.emplace_back(text);
      } else {
        bad_argument = true;
      }
    }
    if (count == 0) {
      result = ScriptValue::Error(std::string(errors::kScriptCallNoArgs));
    } else if (bad_argument) {
      result = ScriptValue::Error(std::string(errors::kScriptCallArgType));
    } else {
      CHECK(call_ != nullptr);
      result = (*call_)(args);
    }
    raise_error = raise && result.IsError();
  }
  // May raise (out of memory): nothing with a destructor is alive here.
  PushValue(lua, call_result_, 0);
  call_result_ = ScriptValue::Null();
  if (raise_error) return lua_error(lua);  // The error object is the {err = ...} table.
  return 1;
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
