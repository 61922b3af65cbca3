#include "server/append_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "base/buffer_keeping.h"
#include "base/crc32c.h"
#include "cluster/ballot_text.h"
#include "protocol/numbers.h"
#include "protocol/resp_parser.h"
#include "protocol/resp_writer.h"

namespace lockerd::server {
namespace {

constexpr std::string_view kBatch = "batch";
// The header's fields; the promise reserve (the 12th) is newer: a header
// without it reads as a reserve of 0 (that run answered no promise early).
constexpr size_t kHeaderFields = 13;
constexpr size_t kHeaderFieldsWithoutReserve = 12;
constexpr size_t kFrameBytes = 8;    // Length and its checksum.
constexpr size_t kTrailerBytes = 4;  // The payload's checksum.
// A record longer than this is damage, not data: records are cut at
// kLogChunkBytes (append_log.h), plus one register.
constexpr uint32_t kRecordBytesMax = 1u << 31;
// A worker writes a compaction's snapshot this much at a time, each chunk
// on disk before the next, so that the loop's syncs wait for at most one
// chunk. (Smaller chunks with pauses between them did no better under
// lockerd's own load on this VM: its disk's flushes come in ~3.7 ms steps
// while another writer is active, and a longer compaction meets more.)
constexpr size_t kLogWriteBehindBytes = 1u << 20;
// The log a rewrite replaced is cut this much at a time, with a pause
// between two cuts, before its last close (AppendLog::ReleaseReplaced).
constexpr size_t kLogReleaseStepBytes = 1u << 20;
constexpr int64_t kLogReleasePauseUs = 1000;

void PutU32(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint32_t GetU32(std::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  return value;
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

std::optional<uint64_t> ToUnsigned(const std::string& text) {
  const auto value = protocol::ParseInt64(text);
  if (!value || *value < 0) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

std::optional<LogBatch> DecodePayload(std::string_view payload) {
  protocol::ParserLimits limits;
  limits.args_count_max = 16;
  limits.bulk_bytes_max = 64u << 20;
  limits.command_bytes_max = 128u << 20;
  protocol::RespParser parser(limits);
  const auto next = [&](size_t fields, size_t or_fields = 0) -> bool {
    if (payload.empty()) return false;
    const protocol::ParseResult r = parser.Feed(payload);
    payload.remove_prefix(r.consumed_bytes);
    return r.status == protocol::ParseStatus::kComplete &&
           (parser.command().size() == fields || parser.command().size() == or_fields);
  };
  if (!next(kHeaderFields, kHeaderFieldsWithoutReserve)) return std::nullopt;
  const auto header = parser.command();
  const bool with_reserve = header.size() == kHeaderFields;
  const auto reserve = with_reserve ? ToUnsigned(header[11]) : std::optional<uint64_t>(0);
  const auto wall = protocol::ParseInt64(header[2]);
  const auto boottime = protocol::ParseInt64(header[4]);
  const auto counter = ToUnsigned(header[5]);
  const auto floor_round = ToUnsigned(header[6]);
  LogBatch batch;
  const bool floor_member = cluster::ParseBallotMember(header[7], &batch.ballot_floor);
  const auto quarantine_left = protocol::ParseInt64(header[8]);
  const auto count = ToUnsigned(header[10]);
  if (header[0] != kBatch || (header[1] != "full" && header[1] != "delta") || !wall || !boottime ||
      !counter || !floor_round || !floor_member || !quarantine_left || *quarantine_left < 0 ||
      (header[9] != "0" && header[9] != "1") || !count || !reserve ||
      header[header.size() - 1] != "end-of-header") {
    return std::nullopt;
  }
  batch.full = header[1] == "full";
  batch.stamp.wall_ms = *wall;
  batch.stamp.boot.boot_id = header[3];
  batch.stamp.boot.boottime_ms = *boottime;
  batch.token_counter = *counter;
  batch.ballot_floor.round = *floor_round;
  batch.quarantine_left_ms = *quarantine_left;
  batch.needs_sync = header[9] == "1";
  batch.round_reserve = *reserve;
  for (uint64_t i = 0; i < *count; ++i) {
    if (!next(kSavedRegisterFields)) return std::nullopt;
    std::optional<cluster::SavedRegister> reg = ReadSavedRegister(parser.command());
    if (!reg) return std::nullopt;
    batch.registers.push_back(std::move(*reg));
  }
  if (!payload.empty()) return std::nullopt;
  return batch;
}

}  // namespace

LogBatch LogBatchOf(cluster::NodeState state, bool full, SaveStamp stamp) {
  LogBatch batch;
  batch.full = full;
  batch.stamp = std::move(stamp);
  batch.token_counter = state.token_counter;
  batch.ballot_floor = state.ballot_floor;
  batch.quarantine_left_ms = state.quarantine_left_ms;
  batch.needs_sync = state.needs_sync;
  batch.round_reserve = state.round_reserve;
  batch.registers = std::move(state.registers);
  return batch;
}

namespace {

// One framed record: the header of `batch` (`full` as given) over
// `count` registers already encoded in `registers`.
void AppendRecord(const LogBatch& batch, bool full, size_t count, std::string_view registers,
                  std::string* out) {
  std::string payload;
  protocol::RespWriter writer(&payload);
  writer.WriteArrayHeader(kHeaderFields);
  writer.WriteBulk(kBatch);
  writer.WriteBulk(full ? "full" : "delta");
  writer.WriteBulk(std::to_string(batch.stamp.wall_ms));
  writer.WriteBulk(batch.stamp.boot.boot_id);
  writer.WriteBulk(std::to_string(batch.stamp.boot.boottime_ms));
  writer.WriteBulk(std::to_string(batch.token_counter));
  writer.WriteBulk(std::to_string(batch.ballot_floor.round));
  writer.WriteBulk(cluster::BallotMemberText(batch.ballot_floor));
  writer.WriteBulk(std::to_string(batch.quarantine_left_ms));
  writer.WriteBulk(batch.needs_sync ? "1" : "0");
  writer.WriteBulk(std::to_string(count));
  writer.WriteBulk(std::to_string(batch.round_reserve));
  writer.WriteBulk("end-of-header");
  payload += registers;
  const size_t frame = out->size();
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, base::Crc32c(std::string_view(*out).substr(frame, 4)));
  *out += payload;
  PutU32(out, base::Crc32c(payload));
}

}  // namespace

std::string EncodeLogRecord(const LogBatch& batch, size_t chunk_bytes) {
  // Registers go into records of about chunk_bytes each, far below what
  // a record's length may say: a full batch of millions of leases is one
  // full record and delta records after it, which replay the same.
  std::string out;
  std::string registers;
  protocol::RespWriter writer(&registers);
  size_t count = 0;
  bool first = true;
  for (const cluster::SavedRegister& reg : batch.registers) {
    WriteSavedRegister(writer, reg);
    ++count;
    if (registers.size() >= chunk_bytes) {
      AppendRecord(batch, batch.full && first, count, registers, &out);
      first = false;
      registers.clear();
      count = 0;
    }
  }
  if (count > 0 || first) AppendRecord(batch, batch.full && first, count, registers, &out);
  return out;
}

LogContents ReadLog(std::string_view bytes) {
  LogContents contents;
  size_t at = 0;
  const auto damage = [&](const std::string& what) {
    contents.problem = "damaged record at byte " + std::to_string(at) + ": " + what +
                       " (records after it were synced: refusing to start without them)";
  };
  while (at < bytes.size()) {
    const std::string_view rest = bytes.substr(at);
    if (rest.size() < kFrameBytes) {
      contents.torn_tail = "the last record's header is cut short";
      break;
    }
    const uint32_t length = GetU32(rest);
    if (base::Crc32c(rest.substr(0, 4)) != GetU32(rest.substr(4))) {
      if (AllZero(rest)) {
        contents.torn_tail = "zeros after the last record";
      } else {
        damage("its header fails its checksum");
      }
      break;
    }
    if (length > kRecordBytesMax) {
      damage("it claims " + std::to_string(length) + " bytes");
      break;
    }
    if (rest.size() < kFrameBytes + length + kTrailerBytes) {
      contents.torn_tail = "the last record is cut short";
      break;
    }
    const std::string_view payload = rest.substr(kFrameBytes, length);
    const size_t end = kFrameBytes + length + kTrailerBytes;
    if (base::Crc32c(payload) != GetU32(rest.substr(kFrameBytes + length))) {
      if (AllZero(rest.substr(end))) {
        contents.torn_tail = "the last record fails its checksum";
      } else {
        damage("it fails its checksum");
      }
      break;
    }
    std::optional<LogBatch> batch = DecodePayload(payload);
    if (!batch) {
      damage("it does not decode (written by another version of lockerd?)");
      break;
    }
    contents.batches.push_back(std::move(*batch));
    at += end;
    contents.good_bytes = at;
  }
  return contents;
}

std::optional<cluster::NodeState> ReplayLog(const std::vector<LogBatch>& batches, SaveStamp* stamp) {
  if (batches.empty()) return std::nullopt;
  // "Now" for the log is its newest stamp of the last record's boot, not
  // the last record's own: a compaction's snapshot parts are stamped when
  // taken and may be newer than the records after them (the tail synced
  // meanwhile). Ageing a newer part's leases as if from an older stamp
  // would end them early.
  SaveStamp last = batches.back().stamp;
  for (const LogBatch& batch : batches) {
    if (batch.stamp.boot.boot_id == last.boot.boot_id && batch.stamp.boot.boottime_ms > last.boot.boottime_ms) {
      last = batch.stamp;
    }
  }
  // Time left as of `last`: shortened by the boot clock's time since the
  // batch's stamp, or whole across a reboot (the downtime is unknown).
  const auto as_of_last = [&](int64_t remaining_ms, const SaveStamp& then) {
    const std::optional<int64_t> elapsed = ElapsedWithinBoot(then.boot, last.boot);
    return elapsed ? std::max<int64_t>(0, remaining_ms - *elapsed) : remaining_ms;
  };
  cluster::NodeState state;
  std::map<std::string, cluster::SavedRegister> registers;
  for (const LogBatch& batch : batches) {
    if (batch.full) registers.clear();
    for (const cluster::SavedRegister& reg : batch.registers) {
      cluster::SavedRegister now = reg;
      now.remaining_ms = as_of_last(reg.remaining_ms, batch.stamp);
      registers[reg.key] = std::move(now);
    }
    state.token_counter = std::max(state.token_counter, batch.token_counter);
    state.ballot_floor = std::max(state.ballot_floor, batch.ballot_floor);
    state.round_reserve = std::max(state.round_reserve, batch.round_reserve);
  }
  state.quarantine_left_ms = as_of_last(batches.back().quarantine_left_ms, batches.back().stamp);
  state.needs_sync = batches.back().needs_sync;
  state.registers.reserve(registers.size());
  for (auto& [key, reg] : registers) state.registers.push_back(std::move(reg));
  *stamp = last;
  return state;
}

std::unique_ptr<AppendLog> AppendLog::Open(const std::string& path, uint64_t keep_bytes,
                                           std::string* error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = SystemError("cannot open " + path);
    return nullptr;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 ||
      (static_cast<uint64_t>(info.st_size) > keep_bytes &&
       ::ftruncate(fd, static_cast<off_t>(keep_bytes)) != 0) ||
      ::fsync(fd) != 0) {
    *error = SystemError("cannot prepare " + path);
    ::close(fd);
    return nullptr;
  }
  const size_t slash = path.find_last_of('/');
  if (*error = SyncDirectory(slash == std::string::npos ? "." : path.substr(0, slash)); !error->empty()) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<AppendLog>(
      new AppendLog(path, fd, std::min<uint64_t>(keep_bytes, static_cast<uint64_t>(info.st_size))));
}

AppendLog::~AppendLog() { ::close(fd_); }

std::string AppendLog::Sync() {
  if (pending_.empty()) return {};
  // A rewrite put its file in place: the rename is made durable before
  // anything appended to the new file can be counted on.
  if (dir_sync_needed_) {
    const size_t slash = path_.find_last_of('/');
    if (std::string error = SyncDirectory(slash == std::string::npos ? "." : path_.substr(0, slash));
        !error.empty()) {
      // A later fsync may succeed without the rename ever reaching the
      // disk: which file a power loss leaves is unknown for good.
      last_failure_ = std::strerror(errno);
      must_stop_ = true;
      return error;
    }
    dir_sync_needed_ = false;
  }
  if (cut_needed_) {
    if (::ftruncate(fd_, static_cast<off_t>(synced_bytes_)) != 0) {
      last_failure_ = std::strerror(errno);
      return SystemError("cannot cut " + path_ + " back");
    }
    cut_needed_ = false;
  }
  std::string error = WriteAll(fd_, pending_, path_);
  if (error.empty() && ::fdatasync(fd_) != 0) error = SystemError("cannot sync " + path_);
  if (!error.empty()) {
    last_failure_ = std::strerror(errno);
    // Back to what is known to be on disk; the queue is written again on
    // the next try (O_APPEND: after the last synced byte).
    if (::ftruncate(fd_, static_cast<off_t>(synced_bytes_)) != 0) {
      cut_needed_ = true;
      error += "; " + SystemError("cannot cut " + path_ + " back");
    }
    return error;
  }
  synced_bytes_ += pending_.size();
  if (rewriting_) tail_ += pending_;
  pending_.clear();
  return {};
}

std::string AppendLog::Rewrite(const LogBatch& full, bool* can_go_on, bool replaces_queue) {
  *can_go_on = true;
  if (rewriting_ || (!pending_.empty() && !replaces_queue)) return "records are queued: sync them first";
  rewriting_ = true;
  tail_.clear();
  if (std::string error = WriteSnapshot(rewrite_path(), {full}); !error.empty()) {
    AbandonRewrite(error);
    return error;
  }
  int replaced_fd = -1;
  if (std::string error = FinishRewrite(&replaced_fd); !error.empty()) return error;
  ::close(replaced_fd);
  if (replaces_queue) {
    pending_.clear();
    cut_needed_ = false;  // A new file, all of it synced.
  }
  // Not deferred to the next Sync: the caller goes on at once.
  const size_t slash = path_.find_last_of('/');
  std::string error = SyncDirectory(slash == std::string::npos ? "." : path_.substr(0, slash));
  if (!error.empty()) {
    last_failure_ = std::strerror(errno);
    *can_go_on = false;  // Which file a power loss leaves is unknown.
  } else {
    dir_sync_needed_ = false;
  }
  return error;
}

bool AppendLog::BeginRewrite() {
  if (!pending_.empty() || rewriting_) return false;
  rewriting_ = true;
  tail_.clear();
  return true;
}

std::string AppendLog::WriteSnapshot(const std::string& rewrite_path, const std::vector<LogBatch>& parts) {
  // On a worker thread, beside a loop whose every turn waits for a sync of
  // the same disk: the lowest CPU priority for this thread, and the file
  // written back a megabyte at a time, each on disk before the next is
  // written (sync_file_range), so that the loop's syncs never wait for more
  // than a megabyte of it (ext4 commits other files' new data with them).
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  std::string records;
  for (const LogBatch& part : parts) records += EncodeLogRecord(part);
  const int fd = ::open(rewrite_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("cannot create " + rewrite_path);
  std::string error;
  for (size_t written = 0; written < records.size() && error.empty();) {
    const size_t chunk = std::min(kLogWriteBehindBytes, records.size() - written);
    error = WriteAll(fd, std::string_view(records).substr(written, chunk), rewrite_path);
    (void)::sync_file_range(fd, static_cast<off_t>(written), static_cast<off_t>(chunk),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    written += chunk;
  }
  if (error.empty() && ::fsync(fd) != 0) error = SystemError("cannot sync " + rewrite_path);
  ::close(fd);
  return error;
}

std::string AppendLog::AppendSynced(const std::string& rewrite_path, std::string_view records) {
  const int fd = ::open(rewrite_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return SystemError("cannot open " + rewrite_path);
  std::string error = WriteAll(fd, records, rewrite_path);
  if (error.empty() && ::fdatasync(fd) != 0) error = SystemError("cannot sync " + rewrite_path);
  ::close(fd);
  return error;
}

void AppendLog::ReleaseReplaced(int fd, const std::string& dir) {
  struct stat info {};
  if (SyncDirectory(dir).empty() && ::fstat(fd, &info) == 0) {
    for (off_t size = info.st_size; size > 0;) {
      size = std::max<off_t>(0, size - static_cast<off_t>(kLogReleaseStepBytes));
      if (::ftruncate(fd, size) != 0) break;
      std::this_thread::sleep_for(std::chrono::microseconds(kLogReleasePauseUs));
    }
  }
  ::close(fd);
}

std::string AppendLog::TakeTail() {
  std::string tail;
  tail.swap(tail_);
  return tail;
}

void AppendLog::AbandonRewrite(const std::string& why) {
  // Until the rename the log is untouched: dropping the file gives its space back.
  const size_t colon = why.rfind(": ");
  last_failure_ = colon == std::string::npos ? why : why.substr(colon + 2);
  ::unlink(rewrite_path().c_str());
  rewriting_ = false;
  tail_.clear();
  base::ReleaseIfBig(tail_);
}

std::string AppendLog::FinishRewrite(int* replaced_fd) {
  *replaced_fd = -1;
  const std::string temporary = rewrite_path();
  std::string error = tail_.empty() ? std::string() : AppendSynced(temporary, tail_);
  const int fd = error.empty() ? ::open(temporary.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
  if (error.empty() && fd < 0) error = SystemError("cannot open " + temporary);
  struct stat info {};
  if (error.empty() && ::fstat(fd, &info) != 0) error = SystemError("cannot read the size of " + temporary);
  if (error.empty() && ::rename(temporary.c_str(), path_.c_str()) != 0) {
    error = SystemError("cannot rename " + temporary);
  }
  if (!error.empty()) {
    if (fd >= 0) ::close(fd);
    AbandonRewrite(error);
    return error;
  }
  // Either file holds everything synced so far; until the rename is
  // durable (the next Sync syncs the directory first), nothing appended
  // to the new one is counted on.
  *replaced_fd = fd_;
  fd_ = fd;
  synced_bytes_ = static_cast<uint64_t>(info.st_size);
  dir_sync_needed_ = true;
  rewriting_ = false;
  tail_.clear();
  base::ReleaseIfBig(tail_);
  return {};
}

}  // namespace lockerd::server
