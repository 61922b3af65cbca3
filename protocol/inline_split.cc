#include "protocol/inline_split.h"

namespace lockerd::protocol {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char Unescape(char e) {
  switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return e;
  }
}

enum class Quote { kNone, kDouble, kSingle };

// Reads one word starting at line[*pos] (not a space) into *out. Like
// sdssplitargs, a quote inside an unquoted word opens a quoted part, and a
// closing quote must be followed by a space or the end of the line.
bool ReadWord(std::string_view line, size_t* pos, std::string* out) {
  Quote quote = Quote::kNone;
  size_t i = *pos;
  while (true) {
    if (i == line.size()) {
      *pos = i;
      return quote == Quote::kNone;  // Inside quotes: unbalanced.
    }
    const char c = line[i];
    if (quote == Quote::kNone) {
      if (IsSpace(c)) break;
      if (c == '"') {
        quote = Quote::kDouble;
      } else if (c == '\'') {
        quote = Quote::kSingle;
      } else {
        out->push_back(c);
      }
      ++i;
      continue;
    }
    const char closing = quote == Quote::kDouble ? '"' : '\'';
    if (c == closing) {
      if (i + 1 < line.size() && !IsSpace(line[i + 1])) return false;
      ++i;
      break;
    }
    if (quote == Quote::kDouble && c == '\\' && i + 3 < line.size() && line[i + 1] == 'x' &&
        HexValue(line[i + 2]) >= 0 && HexValue(line[i + 3]) >= 0) {
      out->push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
      i += 4;
    } else if (quote == Quote::kDouble && c == '\\' && i + 1 < line.size()) {
      out->push_back(Unescape(line[i + 1]));
      i += 2;
    } else if (quote == Quote::kSingle && c == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
      out->push_back('\'');
      i += 2;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  *pos = i;
  return true;
}

}  // namespace

InlineSplit SplitInlineArgs(std::string_view line, size_t args_count_max,
                            std::vector<std::string>* args, size_t* count) {
  *count = 0;
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size()) return InlineSplit::kOk;
    if (*count == args_count_max) return InlineSplit::kTooManyArgs;
    if (*count == args->size()) args->emplace_back();
    std::string& arg = (*args)[(*count)++];
    arg.clear();
    if (!ReadWord(line, &i, &arg)) return InlineSplit::kUnbalancedQuotes;
  }
}

}  // namespace lockerd::protocol
