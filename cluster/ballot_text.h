// A ballot's member and step as text, for the readable peer messages and
// the state file: "2" when the step is 0 (every round's ballot), "2.5"
// otherwise (a one-round-trip write, see cluster/ballot.h). So text written
// before steps existed reads the same.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/ballot.h"

namespace lockerd::cluster {

inline std::string BallotMemberText(const Ballot& ballot) {
  std::string text = std::to_string(ballot.member);
  if (ballot.step != 0) text += "." + std::to_string(ballot.step);
  return text;
}

// Digits only (no sign, no spaces, no leading zero), at most UINT32_MAX:
// the text BallotMemberText writes, and nothing else.
inline std::optional<uint32_t> ParseBallotNumber(std::string_view text) {
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// False unless `text` is "<member>" or "<member>.<step>", each a
// non-negative number in range (a step is positive).
inline bool ParseBallotMember(std::string_view text, Ballot* ballot) {
  const size_t dot = text.find('.');
  const auto member = ParseBallotNumber(text.substr(0, dot));
  if (!member) return false;
  ballot->member = static_cast<MemberId>(*member);
  ballot->step = 0;
  if (dot == std::string_view::npos) return true;
  const auto step = ParseBallotNumber(text.substr(dot + 1));
  if (!step || *step == 0) return false;
  ballot->step = static_cast<uint32_t>(*step);
  return true;
}

}  // namespace lockerd::cluster
