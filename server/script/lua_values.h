// Conversions between Lua values and script values, with Redis's rules: a
// script's return value (or the table it raised) becomes a reply, and a
// reply of redis.call becomes a Lua value. Internal to server/script/: the
// engine and the redis.* functions use them; neither runs a script.
#pragma once

#include <cstddef>
#include <string_view>

#include "server/script/script_value.h"

struct lua_State;

namespace lockerd::server::script {

// Nesting a reply may have, either way.
inline constexpr int kValueDepthMax = 64;
// The value at `index` as a reply: numbers are cut to integers, true is 1,
// false and nil are null, a table with a string `err` or `ok` field is an
// error or a status, any other table is the array of its items 1..n up to
// the first nil. `budget` is what the reply may still take in bytes (a
// table referenced many times is copied each time, so a small Lua value
// can become a huge reply); past it, or past kValueDepthMax, the whole
// reply is the errors::kScriptReplyTooBig or errors::kScriptTooDeep error.
ScriptValue ToValue(lua_State* lua, int index, int depth, size_t* budget);

// Pushes `value` as Lua sees it: null is false, a status or an error is a
// table with an `ok` or `err` field, an array is a table. May raise a Lua
// error (out of memory), so the caller must hold no object with a
// destructor on the C++ stack.
void PushValue(lua_State* lua, const ScriptValue& value, int depth);

}  // namespace lockerd::server::script
