// A reply as scripts see it: what redis.call returns to Lua and what a
// script's return value becomes before it is written to the client, in
// Redis's RESP2 shapes (scripts speak RESP2 here, as Redis scripts do by
// default).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lockerd::server::script {

struct ScriptValue {
  // kNullArray: EXEC's answer when a watched key changed (RESP2 "*-1").
  enum class Kind : uint8_t { kNull, kInteger, kBulk, kStatus, kError, kArray, kNullArray };
  Kind kind = Kind::kNull;
  int64_t integer = 0;
  std::string text;  // kBulk, kStatus, kError (without the leading '-').
  std::vector<ScriptValue> items;

  static ScriptValue Null() { return {}; }
  static ScriptValue NullArray() { return {Kind::kNullArray, 0, {}, {}}; }
  static ScriptValue Integer(int64_t value) { return {Kind::kInteger, value, {}, {}}; }
  static ScriptValue Bulk(std::string text) { return {Kind::kBulk, 0, std::move(text), {}}; }
  static ScriptValue Status(std::string text) { return {Kind::kStatus, 0, std::move(text), {}}; }
  static ScriptValue Error(std::string text) { return {Kind::kError, 0, std::move(text), {}}; }
  static ScriptValue Array(std::vector<ScriptValue> items) {
    return {Kind::kArray, 0, {}, std::move(items)};
  }
  bool IsError() const { return kind == Kind::kError; }
};

}  // namespace lockerd::server::script
