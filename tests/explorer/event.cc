// The text form of the explorer's events (event.h): one letter and one or
// two numbers each. Parsing only; whether an event can happen is the
// explored cluster's to say.
#include "tests/explorer/event.h"

#include <charconv>

namespace lockerd::explorer {
namespace {

struct Letter {
  EventKind kind;
  char letter;
  bool pair;  // Two numbers, "a.b".
};

constexpr Letter kLetters[] = {
    {EventKind::kSubmit, 's', true},      {EventKind::kDeliver, 'd', false},
    {EventKind::kDeliverOne, 'o', false}, {EventKind::kDrop, 'x', false},
    {EventKind::kAdvance, 't', false},    {EventKind::kRestart, 'r', true},
    {EventKind::kCrash, 'k', false},      {EventKind::kLoseDisk, 'e', false},
    {EventKind::kPartition, 'p', false},  {EventKind::kSync, 'f', false},
};

bool ParseNumber(std::string_view text, int64_t* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string EncodeEvent(const Event& event) {
  for (const Letter& letter : kLetters) {
    if (letter.kind != event.kind) continue;
    std::string text(1, letter.letter);
    if (event.kind == EventKind::kAdvance) return text + std::to_string(event.at_ms);
    text += std::to_string(event.a);
    if (letter.pair) text += "." + std::to_string(event.b);
    return text;
  }
  return "?";
}

std::optional<Event> DecodeEvent(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (const Letter& letter : kLetters) {
    if (letter.letter != text[0]) continue;
    Event event;
    event.kind = letter.kind;
    std::string_view rest = text.substr(1);
    int64_t first = 0;
    int64_t second = 0;
    if (letter.pair) {
      const size_t dot = rest.find('.');
      if (dot == std::string_view::npos || !ParseNumber(rest.substr(dot + 1), &second)) {
        return std::nullopt;
      }
      rest = rest.substr(0, dot);
    }
    if (!ParseNumber(rest, &first)) return std::nullopt;
    if (event.kind == EventKind::kAdvance) {
      event.at_ms = first;
    } else {
      event.a = static_cast<int32_t>(first);
      event.b = static_cast<int32_t>(second);
    }
    return event;
  }
  return std::nullopt;
}

std::string EncodeTrace(const std::vector<Event>& trace) {
  std::string text;
  for (const Event& event : trace) text += (text.empty() ? "" : " ") + EncodeEvent(event);
  return text;
}

std::optional<std::vector<Event>> DecodeTrace(std::string_view text) {
  std::vector<Event> trace;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    if (!word.empty()) {
      const std::optional<Event> event = DecodeEvent(word);
      if (!event) return std::nullopt;
      trace.push_back(*event);
    }
    if (space == std::string_view::npos) break;
    text = text.substr(space + 1);
  }
  return trace;
}

}  // namespace lockerd::explorer
