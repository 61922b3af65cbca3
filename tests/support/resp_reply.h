// Decodes RESP2/RESP3 replies into a tree, for tests that check what the
// server wrote ("the reply is an array of two bulk strings"). Test-only: it
// trusts its input and stops at the first malformed byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockerd::testing {

struct Reply {
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray, kMap, kSet, kVerbatim, kOther };
  Type type = Type::kNull;
  std::string text;  // Simple, error, bulk, verbatim (without "txt:").
  int64_t integer = 0;
  std::vector<Reply> elements;  // Array, set; map as key, value, key, value.

  bool IsNull() const { return type == Type::kNull; }
  bool IsError() const { return type == Type::kError; }
  // Map or RESP2 flat array lookup by key.
  const Reply* Field(std::string_view key) const;
};

// Parses one reply from the front of `bytes`; sets *consumed. nullopt if the
// bytes hold no complete reply.
std::optional<Reply> ParseReply(std::string_view bytes, size_t* consumed);
// All complete replies in `bytes`.
std::vector<Reply> ParseReplies(std::string_view bytes);

}  // namespace lockerd::testing
