// The `redis` library scripts see: redis.call and redis.pcall, which hand
// their arguments to the engine's CallFn and its reply back to Lua, and the
// helpers Redis offers beside them (error_reply, status_reply, sha1hex,
// log, setresp, the replication no-ops and the LOG_* and REPL_* numbers).
// It does not decide what a command does: that is the CallFn's job
// (server/commands/script_keys.h).
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "server/script/lua_engine.h"
#include "server/script/lua_values.h"
#include "server/script/sha1.h"
#include "base/errors.h"

namespace lockerd::server::script {
namespace {

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

}  // namespace

void LuaEngine::OpenRedisLibrary() {
  lua_State* lua = lua_;
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

}  // namespace lockerd::server::script
