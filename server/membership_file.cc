#include "server/membership_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cluster/ballot_text.h"
#include "protocol/numbers.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"
#include "server/state_file.h"

namespace lockerd::server {
namespace {

constexpr std::string_view kMagic = "lockerd-membership";
constexpr std::string_view kFormatVersion = "2";
constexpr size_t kFields = 15;

void WriteMembership(protocol::RespWriter& writer, const cluster::Membership& membership) {
  writer.WriteBulk(std::to_string(membership.epoch));
  writer.WriteBulk(std::to_string(membership.voters));
  writer.WriteBulk(std::to_string(membership.learners));
}

void WriteBallot(protocol::RespWriter& writer, const cluster::Ballot& ballot) {
  writer.WriteBulk(std::to_string(ballot.round));
  writer.WriteBulk(cluster::BallotMemberText(ballot));
}

std::optional<uint64_t> Unsigned(const std::string& text) {
  const auto value = protocol::ParseInt64(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

std::optional<uint32_t> Mask(const std::string& text) {
  const auto value = Unsigned(text);
  if (!value || *value > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

bool ReadMembership(const std::string* fields, cluster::Membership* membership) {
  const auto epoch = Unsigned(fields[0]);
  const auto voters = Mask(fields[1]);
  const auto learners = Mask(fields[2]);
  if (!epoch || !voters || !learners) return false;
  *membership = cluster::Membership{*epoch, *voters, *learners};
  return true;
}

bool ReadBallot(const std::string* fields, cluster::Ballot* ballot) {
  const auto round = Unsigned(fields[0]);
  if (!round || !cluster::ParseBallotMember(fields[1], ballot)) return false;
  ballot->round = *round;
  return true;
}

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::string EncodeMembership(const cluster::MembershipState& state) {
  std::string out;
  protocol::RespWriter writer(&out);
  writer.WriteArrayHeader(kFields);
  writer.WriteBulk(kMagic);
  writer.WriteBulk(kFormatVersion);
  WriteMembership(writer, state.adopted);
  WriteBallot(writer, state.promised);
  WriteBallot(writer, state.accepted);
  WriteMembership(writer, state.value.membership);
  writer.WriteBulk(std::to_string(state.value.previous_voters));
  writer.WriteBulk(state.value.settled ? "1" : "0");
  writer.WriteBulk(state.joined ? "1" : "0");
  return out;
}

std::optional<cluster::MembershipState> DecodeMembership(std::string_view bytes, std::string* problem) {
  const auto fail = [&](const char* what) -> std::optional<cluster::MembershipState> {
    *problem = what;
    return std::nullopt;
  };
  if (bytes.substr(0, 64).find(kMagic) == std::string_view::npos) return fail("not a lockerd membership file");
  protocol::ParserLimits limits;
  limits.args_count_max = kFields;
  protocol::RespParser parser(limits);
  const protocol::ParseResult result = parser.Feed(bytes);
  if (result.status != protocol::ParseStatus::kComplete || parser.command().size() != kFields ||
      result.consumed_bytes != bytes.size()) {
    return fail("truncated or damaged");
  }
  const auto fields = parser.command();
  if (fields[0] != kMagic || fields[1] != kFormatVersion) {
    return fail("unknown membership file version (written by another version of lockerd)");
  }
  cluster::MembershipState state;
  const auto previous_voters = Mask(fields[12]);
  if (!ReadMembership(&fields[2], &state.adopted) || !ReadBallot(&fields[5], &state.promised) ||
      !ReadBallot(&fields[7], &state.accepted) || !ReadMembership(&fields[9], &state.value.membership) ||
      !previous_voters || (fields[13] != "0" && fields[13] != "1") || (fields[14] != "0" && fields[14] != "1")) {
    return fail("bad field");
  }
  state.value.previous_voters = *previous_voters;
  state.value.settled = fields[13] == "1";
  state.joined = fields[14] == "1";
  // Epoch 0 (joining) is adopted by a member that knows no configuration;
  // every other adopted configuration is well formed.
  if (state.adopted.epoch != 0 && !state.adopted.Valid()) return fail("bad configuration");
  return state;
}

MembershipFile::Loaded MembershipFile::Load() const {
  Loaded loaded;
  const int fd = ::open(path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) loaded.problem = SystemError("cannot open " + path());
    return loaded;
  }
  std::string bytes;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) bytes.append(buffer, static_cast<size_t>(n));
  }
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) {
    errno = read_errno;
    loaded.problem = SystemError("cannot read " + path());
    return loaded;
  }
  std::string problem;
  loaded.state = DecodeMembership(bytes, &problem);
  if (!loaded.state) loaded.problem = path() + ": " + problem;
  return loaded;
}

std::string MembershipFile::Save(const cluster::MembershipState& state) const {
  const std::string temporary = path() + ".tmp";
  if (std::string error = WriteSynced(temporary, EncodeMembership(state)); !error.empty()) return error;
  if (std::rename(temporary.c_str(), path().c_str()) != 0) return SystemError("cannot rename " + temporary);
  return SyncDirectory(dir_);
}

}  // namespace lockerd::server
