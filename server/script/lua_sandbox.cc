// The sandbox scripts run in, as Redis builds it: the safe part of the base
// library, string, table, math and redis behind read-only proxies, a fresh
// environment per run in which creating or reading an undefined global is
// an error, and a loadstring that refuses bytecode and keeps the script's
// environment. The real globals are emptied. It does not run scripts or
// define the redis.* functions (lua_redis_api.cc).
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>

#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "server/script/lua_engine.h"
#include "server/script/lua_registry.h"

namespace lockerd::server::script {
namespace {

constexpr const char* kSafeBase[] = {
    "assert", "error",  "ipairs",   "next",     "pairs",  "pcall",        "rawequal", "rawget",
    "rawset", "select", "tonumber", "tostring", "type",   "unpack",       "xpcall",   "getmetatable",
    "setmetatable", "_VERSION"};
constexpr const char* kLibraries[] = {"string", "table", "math", "redis"};

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

}  // namespace

void LuaEngine::BuildSandbox() {
  lua_State* lua = lua_;
  lua_pushlightuserdata(lua, this);
  lua_setfield(lua, LUA_REGISTRYINDEX, kEngineKey);
  for (const auto& [name, open] : {std::pair<const char*, lua_CFunction>{"", luaopen_base},
                                   {LUA_TABLIBNAME, luaopen_table},
                                   {LUA_STRLIBNAME, luaopen_string},
                                   {LUA_MATHLIBNAME, luaopen_math}}) {
    lua_pushcfunction(lua, open);
    lua_pushstring(lua, name);
    lua_call(lua, 1, 0);
  }
  GuardStringLibrary();  // lua_string_guard.cc

  // The redis library (lua_redis_api.cc).
  OpenRedisLibrary();

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

}  // namespace lockerd::server::script
