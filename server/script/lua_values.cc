// Lua values to script values and back (lua_values.h), as Redis converts
// them; what the conversions cost is bounded by depth and a byte budget.
#include "server/script/lua_values.h"
#include "base/errors.h"

#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lockerd::server::script {

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

}  // namespace lockerd::server::script
