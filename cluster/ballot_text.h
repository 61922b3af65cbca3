// A ballot's member and step as text, for the readable peer messages and
// the state file: "2" when the step is 0 (every round's ballot), "2.5"
// otherwise (a one-round-trip write, see cluster/ballot.h). So text written
// before steps existed reads the same.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/ballot.h"
#include "protocol/numbers.h"

namespace lockerd::cluster {

inline std::string BallotMemberText(const Ballot& ballot) {
  std::string text = std::to_string(ballot.member);
  if (ballot.step != 0) text += "." + std::to_string(ballot.step);
  return text;
}

// False unless `text` is "<member>" or "<member>.<step>", each a
// non-negative number in range.
inline bool ParseBallotMember(std::string_view text, Ballot* ballot) {
  const size_t dot = text.find('.');
  const auto member = protocol::ParseInt64(text.substr(0, dot));
  if (!member || *member < 0 || *member > UINT32_MAX) return false;
  ballot->member = static_cast<cluster::MemberId>(*member);
  ballot->step = 0;
  if (dot == std::string_view::npos) return true;
  const auto step = protocol::ParseInt64(text.substr(dot + 1));
  if (!step || *step <= 0 || *step > UINT32_MAX) return false;
  ballot->step = static_cast<uint32_t>(*step);
  return true;
}

}  // namespace lockerd::cluster
