#include "server/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "protocol/numbers.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"
#include "server/ballot_text.h"

namespace lockerd::server {
namespace {

constexpr std::string_view kMagic = "lockerd-state";
// Version 2 added the quarantine left and whether a sync is still owed.
constexpr std::string_view kFormatVersion = "2";

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `bytes` to `path` and syncs it to disk.
std::string WriteSynced(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("cannot create " + path);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = SystemError("cannot write " + path);
      ::close(fd);
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string error = SystemError("cannot sync " + path);
    ::close(fd);
    return error;
  }
  ::close(fd);
  return {};
}

void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool Exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::optional<uint64_t> ToUnsigned(const std::string& text) {
  const auto value = protocol::ParseInt64(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

}  // namespace

std::string EncodeState(const cluster::NodeState& state, int64_t wall_ms) {
  std::string out;
  protocol::RespWriter writer(&out);
  writer.WriteArrayHeader(9);
  writer.WriteBulk(kMagic);
  writer.WriteBulk(kFormatVersion);
  writer.WriteBulk(std::to_string(wall_ms));
  writer.WriteBulk(std::to_string(state.token_counter));
  writer.WriteBulk(std::to_string(state.ballot_floor.round));
  writer.WriteBulk(BallotMemberText(state.ballot_floor));
  writer.WriteBulk(std::to_string(state.leases.size()));
  writer.WriteBulk(std::to_string(state.quarantine_left_ms));
  writer.WriteBulk(state.needs_sync ? "1" : "0");
  for (const cluster::SavedLease& lease : state.leases) {
    writer.WriteArrayHeader(6);
    writer.WriteBulk(lease.key);
    writer.WriteBulk(lease.owner);
    writer.WriteBulk(std::to_string(lease.token));
    writer.WriteBulk(std::to_string(lease.remaining_ms));
    writer.WriteBulk(std::to_string(lease.accepted.round));
    writer.WriteBulk(BallotMemberText(lease.accepted));
  }
  writer.WriteArrayHeader(2);
  writer.WriteBulk("end");
  writer.WriteBulk(std::to_string(state.leases.size()));
  return out;
}

std::optional<cluster::NodeState> DecodeState(std::string_view bytes, int64_t* wall_ms,
                                              std::string* problem) {
  protocol::ParserLimits limits;
  limits.args_count_max = 16;
  protocol::RespParser parser(limits);
  // Reads the next record; false at the end of the bytes or on bad input.
  const auto next = [&](size_t fields) -> bool {
    if (bytes.empty()) return false;
    const protocol::ParseResult r = parser.Feed(bytes);
    bytes.remove_prefix(r.consumed_bytes);
    return r.status == protocol::ParseStatus::kComplete && parser.command().size() == fields;
  };
  const auto fail = [&](const char* what) -> std::optional<cluster::NodeState> {
    *problem = what;
    return std::nullopt;
  };
  if (!next(9) || parser.command()[0] != kMagic) return fail("not a lockerd state file");
  const auto header = parser.command();
  if (header[1] != kFormatVersion) return fail("unknown state file version");
  const auto wall = protocol::ParseInt64(header[2]);
  const auto counter = ToUnsigned(header[3]);
  const auto floor_round = ToUnsigned(header[4]);
  cluster::Ballot floor;
  const bool floor_member = ParseBallotMember(header[5], &floor);
  const auto count = ToUnsigned(header[6]);
  if (!wall || !counter || !floor_round || !floor_member || !count) return fail("bad header");
  const auto quarantine_left = protocol::ParseInt64(header[7]);
  if (!quarantine_left || *quarantine_left < 0 || (header[8] != "0" && header[8] != "1")) {
    return fail("bad header");
  }
  cluster::NodeState state;
  state.quarantine_left_ms = *quarantine_left;
  state.needs_sync = header[8] == "1";
  *wall_ms = *wall;
  state.token_counter = *counter;
  floor.round = *floor_round;
  state.ballot_floor = floor;
  for (uint64_t i = 0; i < *count; ++i) {
    if (!next(6)) return fail("truncated lease record");
    const auto fields = parser.command();
    const auto token = ToUnsigned(fields[2]);
    const auto remaining = protocol::ParseInt64(fields[3]);
    const auto round = ToUnsigned(fields[4]);
    cluster::Ballot accepted;
    const bool member = ParseBallotMember(fields[5], &accepted);
    if (!token || !remaining || !round || !member) return fail("bad lease record");
    accepted.round = *round;
    state.leases.push_back({fields[0], fields[1], *token, *remaining, accepted});
  }
  if (!next(2) || parser.command()[0] != "end" || ToUnsigned(parser.command()[1]) != *count) {
    return fail("missing end record");
  }
  return state;
}

StateStore::StateStore(std::string dir) : dir_(std::move(dir)) {}

PreviousRun StateStore::Load() const {
  PreviousRun previous;
  previous.unclean = Exists(marker_path());
  std::ifstream file(state_path(), std::ios::binary);
  if (!file) return previous;
  std::ostringstream bytes;
  bytes << file.rdbuf();
  std::string problem;
  previous.saved = DecodeState(bytes.str(), &previous.saved_wall_ms, &problem);
  if (!previous.saved) previous.problem = state_path() + ": " + problem;
  return previous;
}

std::string StateStore::MarkRunning() const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return SystemError("cannot create dir " + dir_);
  }
  std::string error = WriteSynced(marker_path(), "pid " + std::to_string(::getpid()) + "\n");
  if (error.empty()) SyncDirectory(dir_);
  return error;
}

std::string StateStore::SaveClean(const cluster::NodeState& state, int64_t wall_ms) const {
  const std::string temporary = state_path() + ".tmp";
  std::string error = WriteSynced(temporary, EncodeState(state, wall_ms));
  if (!error.empty()) return error;
  if (::rename(temporary.c_str(), state_path().c_str()) != 0) {
    return SystemError("cannot rename " + temporary);
  }
  SyncDirectory(dir_);
  // Only once the state is safely on disk may the marker go.
  if (::unlink(marker_path().c_str()) != 0 && errno != ENOENT) {
    return SystemError("cannot remove " + marker_path());
  }
  SyncDirectory(dir_);
  return {};
}

}  // namespace lockerd::server
