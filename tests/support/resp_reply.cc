#include "tests/support/resp_reply.h"

#include <charconv>

namespace lockerd::testing {
namespace {

bool ReadLine(std::string_view bytes, size_t* pos, std::string_view* line) {
  const size_t end = bytes.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = bytes.substr(*pos, end - *pos);
  *pos = end + 2;
  return true;
}

int64_t ToInt(std::string_view text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::optional<Reply> Parse(std::string_view bytes, size_t* pos) {
  if (*pos >= bytes.size()) return std::nullopt;
  const char type = bytes[(*pos)++];
  std::string_view line;
  if (!ReadLine(bytes, pos, &line)) return std::nullopt;
  Reply reply;
  switch (type) {
    case '+': reply.type = Reply::Type::kSimple; reply.text = line; return reply;
    case '-': reply.type = Reply::Type::kError; reply.text = line; return reply;
    case ':': reply.type = Reply::Type::kInteger; reply.integer = ToInt(line); return reply;
    case '_': reply.type = Reply::Type::kNull; return reply;
    case '$':
    case '=': {
      const int64_t length = ToInt(line);
      if (length < 0) return reply;  // Null bulk.
      if (*pos + static_cast<size_t>(length) + 2 > bytes.size()) return std::nullopt;
      reply.type = type == '$' ? Reply::Type::kBulk : Reply::Type::kVerbatim;
      reply.text = bytes.substr(*pos, static_cast<size_t>(length));
      if (type == '=') reply.text = reply.text.substr(4);
      *pos += static_cast<size_t>(length) + 2;
      return reply;
    }
    case '*':
    case '~':
    case '%': {
      const int64_t count = ToInt(line);
      if (count < 0) return reply;  // Null array.
      reply.type = type == '*' ? Reply::Type::kArray
                               : (type == '~' ? Reply::Type::kSet : Reply::Type::kMap);
      const int64_t elements = type == '%' ? count * 2 : count;
      for (int64_t i = 0; i < elements; ++i) {
        auto element = Parse(bytes, pos);
        if (!element) return std::nullopt;
        reply.elements.push_back(std::move(*element));
      }
      return reply;
    }
    default: reply.type = Reply::Type::kOther; reply.text = line; return reply;
  }
}

}  // namespace

const Reply* Reply::Field(std::string_view key) const {
  for (size_t i = 0; i + 1 < elements.size(); i += 2) {
    if (elements[i].text == key) return &elements[i + 1];
  }
  return nullptr;
}

std::optional<Reply> ParseReply(std::string_view bytes, size_t* consumed) {
  size_t pos = 0;
  auto reply = Parse(bytes, &pos);
  if (reply) *consumed = pos;
  return reply;
}

std::vector<Reply> ParseReplies(std::string_view bytes) {
  std::vector<Reply> replies;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t used = 0;
    auto reply = ParseReply(bytes.substr(pos), &used);
    if (!reply) break;
    replies.push_back(std::move(*reply));
    pos += used;
  }
  return replies;
}

}  // namespace lockerd::testing
