#include "base/glob.h"

#include "base/ascii.h"
#include <utility>

namespace lockerd::server {
namespace {

char Fold(char c, bool ignore_case) {
  return ignore_case ? base::AsciiLower(c) : c;
}

// Matches a bracket class starting after '['. Advances *p past the closing
// ']' (or to the end of an unterminated class, which Redis treats as closed).
bool MatchClass(std::string_view pattern, size_t* p, char c, bool ignore_case) {
  size_t i = *p;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') {
    negate = true;
    ++i;
  }
  bool matched = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      if (Fold(pattern[i + 1], ignore_case) == Fold(c, ignore_case)) matched = true;
      i += 2;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char lo = Fold(pattern[i], ignore_case);
      char hi = Fold(pattern[i + 2], ignore_case);
      if (lo > hi) std::swap(lo, hi);
      const char folded = Fold(c, ignore_case);
      if (folded >= lo && folded <= hi) matched = true;
      i += 3;
    } else {
      if (Fold(pattern[i], ignore_case) == Fold(c, ignore_case)) matched = true;
      ++i;
    }
  }
  if (i < pattern.size()) ++i;  // The closing ']'.
  *p = i;
  return negate ? !matched : matched;
}

// Iterative matcher with one backtrack point for the last '*': linear in
// practice and free of the exponential blow-up of naive recursion.
bool Match(std::string_view pattern, std::string_view text, bool ignore_case) {
  size_t p = 0;
  size_t t = 0;
  size_t star_p = std::string_view::npos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        while (p < pattern.size() && pattern[p] == '*') ++p;
        if (p == pattern.size()) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t next = p + 1;
        if (MatchClass(pattern, &next, text[t], ignore_case)) {
          p = next;
          ++t;
          continue;
        }
      } else {
        size_t next = p;
        char literal = pc;
        if (pc == '\\' && p + 1 < pattern.size()) literal = pattern[++next];
        if (Fold(literal, ignore_case) == Fold(text[t], ignore_case)) {
          p = next + 1;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  return Match(pattern, text, ignore_case);
}

}  // namespace lockerd::server
