// Cost checks on the string library's C functions. script-time-limit is a
// count hook, which runs between VM instructions only: a C function of the
// string library that runs for seconds inside one call would stall every
// client. Two can: string.rep (n iterations even when the result is empty)
// and pattern matching, which backtracks in time that grows as the
// subject's length to the power of the pattern's variable-length items (a*,
// .-, %d+ ...). Both are checked before they run, and refused with an error
// when too costly; the checks do not change what an allowed call returns.
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "server/script/lua_engine.h"

namespace lockerd::server::script {

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

}  // namespace lockerd::server::script
