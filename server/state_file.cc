#include "server/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>

#include "protocol/numbers.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"
#include "cluster/ballot_text.h"
#include "server/append_log.h"

namespace lockerd::server {
namespace {

constexpr std::string_view kMagic = "lockerd-state";
// Version 2 added the quarantine left and whether a sync is still owed;
// version 3 every register (free ones too, with both ballots) and the boot
// clock's reading. Older files are refused: the member starts as after a
// crash (quarantine), never with less than it saved.
constexpr std::string_view kFormatVersion = "3";
constexpr size_t kHeaderFields = 12;

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

std::optional<uint64_t> ToUnsigned(const std::string& text) {
  const auto value = protocol::ParseInt64(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

}  // namespace

std::string WriteAll(int fd, std::string_view bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SystemError("cannot write " + path);
    written += static_cast<size_t>(n);
  }
  return {};
}

std::string WriteSynced(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("cannot create " + path);
  if (const std::string error = WriteAll(fd, bytes, path); !error.empty()) {
    ::close(fd);
    return error;
  }
  if (::fsync(fd) != 0) {
    const std::string error = SystemError("cannot sync " + path);
    ::close(fd);
    return error;
  }
  ::close(fd);
  return {};
}

std::string SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SystemError("cannot open dir " + dir);
  const bool synced = ::fsync(fd) == 0;
  std::string error = synced ? std::string() : SystemError("cannot sync dir " + dir);
  ::close(fd);
  return error;
}

std::string EncodeState(const cluster::NodeState& state, const SaveStamp& stamp) {
  std::string out;
  protocol::RespWriter writer(&out);
  writer.WriteArrayHeader(kHeaderFields);
  writer.WriteBulk(kMagic);
  writer.WriteBulk(kFormatVersion);
  writer.WriteBulk(std::to_string(stamp.wall_ms));
  writer.WriteBulk(stamp.boot.boot_id);
  writer.WriteBulk(std::to_string(stamp.boot.boottime_ms));
  writer.WriteBulk(std::to_string(state.token_counter));
  writer.WriteBulk(std::to_string(state.ballot_floor.round));
  writer.WriteBulk(cluster::BallotMemberText(state.ballot_floor));
  writer.WriteBulk(std::to_string(state.registers.size()));
  writer.WriteBulk(std::to_string(state.quarantine_left_ms));
  writer.WriteBulk(state.needs_sync ? "1" : "0");
  writer.WriteBulk("end-of-header");
  for (const cluster::SavedRegister& reg : state.registers) WriteSavedRegister(writer, reg);
  writer.WriteArrayHeader(2);
  writer.WriteBulk("end");
  writer.WriteBulk(std::to_string(state.registers.size()));
  return out;
}

void WriteSavedRegister(protocol::RespWriter& writer, const cluster::SavedRegister& reg) {
  writer.WriteArrayHeader(kSavedRegisterFields);
  writer.WriteBulk(reg.key);
  writer.WriteBulk(std::to_string(reg.promised.round));
  writer.WriteBulk(cluster::BallotMemberText(reg.promised));
  writer.WriteBulk(std::to_string(reg.accepted.round));
  writer.WriteBulk(cluster::BallotMemberText(reg.accepted));
  writer.WriteBulk(reg.held ? "1" : "0");
  writer.WriteBulk(reg.owner);
  writer.WriteBulk(std::to_string(reg.token));
  writer.WriteBulk(std::to_string(reg.remaining_ms));
}

std::optional<cluster::SavedRegister> ReadSavedRegister(std::span<const std::string> fields) {
  if (fields.size() != kSavedRegisterFields) return std::nullopt;
  cluster::SavedRegister reg;
  const auto promised_round = ToUnsigned(fields[1]);
  const auto accepted_round = ToUnsigned(fields[3]);
  const auto token = ToUnsigned(fields[7]);
  const auto remaining = protocol::ParseInt64(fields[8]);
  if (!promised_round || !accepted_round || !token || !remaining || *remaining < 0 ||
      !cluster::ParseBallotMember(fields[2], &reg.promised) || !cluster::ParseBallotMember(fields[4], &reg.accepted) ||
      (fields[5] != "0" && fields[5] != "1")) {
    return std::nullopt;
  }
  reg.key = fields[0];
  reg.promised.round = *promised_round;
  reg.accepted.round = *accepted_round;
  reg.held = fields[5] == "1";
  reg.owner = fields[6];
  reg.token = *token;
  reg.remaining_ms = *remaining;
  return reg;
}

std::optional<cluster::NodeState> DecodeState(std::string_view bytes, SaveStamp* stamp,
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
  if (bytes.substr(0, 64).find(kMagic) == std::string_view::npos) return fail("not a lockerd state file");
  if (!next(kHeaderFields) || parser.command()[0] != kMagic) {
    return fail("unknown state file version (written by another version of lockerd)");
  }
  const auto header = parser.command();
  if (header[1] != kFormatVersion) {
    return fail("unknown state file version (written by another version of lockerd)");
  }
  const auto wall = protocol::ParseInt64(header[2]);
  const auto boottime = protocol::ParseInt64(header[4]);
  const auto counter = ToUnsigned(header[5]);
  const auto floor_round = ToUnsigned(header[6]);
  cluster::Ballot floor;
  const bool floor_member = cluster::ParseBallotMember(header[7], &floor);
  const auto count = ToUnsigned(header[8]);
  const auto quarantine_left = protocol::ParseInt64(header[9]);
  if (!wall || !boottime || !counter || !floor_round || !floor_member || !count ||
      !quarantine_left || *quarantine_left < 0 || (header[10] != "0" && header[10] != "1") ||
      header[11] != "end-of-header") {
    return fail("bad header");
  }
  stamp->wall_ms = *wall;
  stamp->boot.boot_id = header[3];
  stamp->boot.boottime_ms = *boottime;
  cluster::NodeState state;
  state.quarantine_left_ms = *quarantine_left;
  state.needs_sync = header[10] == "1";
  state.token_counter = *counter;
  floor.round = *floor_round;
  state.ballot_floor = floor;
  for (uint64_t i = 0; i < *count; ++i) {
    if (!next(kSavedRegisterFields)) return fail("truncated register record");
    std::optional<cluster::SavedRegister> reg = ReadSavedRegister(parser.command());
    if (!reg) return fail("bad register record");
    state.registers.push_back(std::move(*reg));
  }
  if (!next(2) || parser.command()[0] != "end" || ToUnsigned(parser.command()[1]) != *count) {
    return fail("missing end record");
  }
  return state;
}

StateStore::StateStore(std::string dir) : dir_(std::move(dir)) {}

namespace {

std::optional<std::string> ReadWhole(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

constexpr std::string_view kJournaledLine = "appendonly\n";

}  // namespace

PreviousRun StateStore::Load() const {
  PreviousRun previous;
  const std::optional<std::string> marker = ReadWhole(marker_path());
  previous.unclean = marker.has_value();
  if (marker && marker->find(kJournaledLine) != std::string::npos) {
    // A run that logged every change left its state in the log, whatever
    // stopped it.
    const LogContents log = ReadLog(ReadWhole(log_path()).value_or(""));
    previous.log_bytes = log.good_bytes;
    previous.log_torn_tail = log.torn_tail;
    if (!log.problem.empty()) {
      previous.log_problem = log_path() + ": " + log.problem;
      return previous;
    }
    previous.saved = ReplayLog(log.batches, &previous.saved_at);
    if (previous.saved) {
      previous.unclean = false;
      previous.from_log = true;
      return previous;
    }
  }
  const std::optional<std::string> bytes = ReadWhole(state_path());
  if (!bytes) return previous;
  std::string problem;
  previous.saved = DecodeState(*bytes, &previous.saved_at, &problem);
  if (!previous.saved) previous.problem = state_path() + ": " + problem;
  return previous;
}

std::string StateStore::MarkRunning(bool journaled) const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return SystemError("cannot create dir " + dir_);
  }
  std::string marker = "pid " + std::to_string(::getpid()) + "\n";
  if (journaled) marker += kJournaledLine;
  std::string error = WriteSynced(marker_path(), marker);
  return error.empty() ? SyncDirectory(dir_) : error;
}

std::string StateStore::RemoveLog() const {
  if (::unlink(log_path().c_str()) != 0) {
    return errno == ENOENT ? std::string() : SystemError("cannot remove " + log_path());
  }
  return SyncDirectory(dir_);
}

void StateStore::ClearRunning() const {
  ::unlink(marker_path().c_str());
  (void)SyncDirectory(dir_);  // At worst the next start quarantines.
}

std::string StateStore::SaveState(const cluster::NodeState& state, const SaveStamp& stamp) const {
  const std::string temporary = state_path() + ".tmp";
  std::string error = WriteSynced(temporary, EncodeState(state, stamp));
  if (!error.empty()) return error;
  if (::rename(temporary.c_str(), state_path().c_str()) != 0) {
    return SystemError("cannot rename " + temporary);
  }
  return SyncDirectory(dir_);
}

std::string StateStore::SaveClean(const cluster::NodeState& state, const SaveStamp& stamp) const {
  if (std::string error = SaveState(state, stamp); !error.empty()) return error;
  // Only once the state is safely on disk may the marker go.
  if (::unlink(marker_path().c_str()) != 0 && errno != ENOENT) {
    return SystemError("cannot remove " + marker_path());
  }
  (void)SyncDirectory(dir_);  // At worst the next start quarantines.
  return {};
}

}  // namespace lockerd::server
