// The append-only log's format (server/append_log.h): what it reads back,
// and that every cut and every flipped byte of a recorded log is either
// recovered to the records before the damage (damage in the last record:
// a torn tail, never synced) or refused with a clear message.
#include "server/append_log.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/crc32c.h"

namespace lockerd::server {
namespace {

cluster::SavedRegister Held(std::string key, std::string owner, uint64_t token, int64_t remaining_ms) {
  cluster::SavedRegister reg;
  reg.key = std::move(key);
  reg.promised = {token + 1, 1, 7};
  reg.accepted = {token, 1, 7};
  reg.held = true;
  reg.owner = std::move(owner);
  reg.token = token;
  reg.remaining_ms = remaining_ms;
  return reg;
}

LogBatch Batch(int64_t boottime_ms, std::vector<cluster::SavedRegister> registers, bool full = false) {
  LogBatch batch;
  batch.full = full;
  batch.stamp.wall_ms = 1'700'000'000'000 + boottime_ms;
  batch.stamp.boot = {"boot-a", boottime_ms};
  batch.token_counter = 100 + static_cast<uint64_t>(boottime_ms);
  batch.ballot_floor = {static_cast<uint64_t>(boottime_ms), 2, 7};
  batch.registers = std::move(registers);
  return batch;
}

// Three records, as three loop turns would write them.
std::vector<LogBatch> ThreeTurns() {
  return {Batch(1000, {Held("a", "alice", 10, 5000), Held("b", "bob", 11, 5000)}, /*full=*/true),
          Batch(1200, {Held("a", "alice", 12, 3000)}),
          Batch(1500, {Held("c", "carol", 13, 9000)})};
}

std::string Encode(const std::vector<LogBatch>& batches, std::vector<size_t>* ends = nullptr) {
  std::string bytes;
  for (const LogBatch& batch : batches) {
    bytes += EncodeLogRecord(batch);
    if (ends != nullptr) ends->push_back(bytes.size());
  }
  return bytes;
}

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(base::Crc32c("123456789"), 0xE3069283u);  // The standard check value.
  EXPECT_EQ(base::Crc32c(""), 0u);
  EXPECT_EQ(base::Crc32c("6789", base::Crc32c("12345")), base::Crc32c("123456789"));
}

TEST(AppendLog, ReadsBackWhatItWrote) {
  const LogContents contents = ReadLog(Encode(ThreeTurns()));
  ASSERT_TRUE(contents.problem.empty()) << contents.problem;
  EXPECT_TRUE(contents.torn_tail.empty());
  ASSERT_EQ(contents.batches.size(), 3u);
  EXPECT_TRUE(contents.batches[0].full);
  EXPECT_FALSE(contents.batches[1].full);
  EXPECT_EQ(contents.batches[1].registers.at(0).token, 12u);
  EXPECT_EQ(contents.batches[2].ballot_floor, (cluster::Ballot{1500, 2, 7}));
  EXPECT_EQ(contents.batches[2].stamp.boot.boot_id, "boot-a");
}

TEST(AppendLog, ReplayKeepsTheLastStateOfEachKeyAsOfTheLastRecord) {
  SaveStamp stamp;
  const auto state = ReplayLog(ThreeTurns(), &stamp);
  ASSERT_TRUE(state);
  EXPECT_EQ(stamp.boot.boottime_ms, 1500);
  EXPECT_EQ(state->token_counter, 1600u);
  ASSERT_EQ(state->registers.size(), 3u);
  // a: token 12 with 3000 ms left at 1200, so 2700 at 1500. b: 5000 at
  // 1000, 4500 at 1500. c: 9000 at 1500.
  EXPECT_EQ(state->registers[0].key, "a");
  EXPECT_EQ(state->registers[0].token, 12u);
  EXPECT_EQ(state->registers[0].remaining_ms, 2700);
  EXPECT_EQ(state->registers[1].remaining_ms, 4500);
  EXPECT_EQ(state->registers[2].remaining_ms, 9000);
}

TEST(AppendLog, ReplayKeepsLeasesWholeAcrossAReboot) {
  std::vector<LogBatch> batches = ThreeTurns();
  batches[2].stamp.boot = {"boot-b", 20};
  SaveStamp stamp;
  const auto state = ReplayLog(batches, &stamp);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->registers[0].remaining_ms, 3000);
  EXPECT_EQ(state->registers[1].remaining_ms, 5000);
}

// A compaction's file: snapshot parts stamped as they were taken, then the
// tail synced meanwhile, older than the last part. Time counts from the
// newest stamp, so no part's lease comes back shorter than it was.
TEST(AppendLog, ReplayCountsFromTheNewestStampOfTheBoot) {
  const std::vector<LogBatch> batches = {
      Batch(1000, {Held("a", "alice", 10, 5000)}, /*full=*/true),
      Batch(1300, {Held("b", "bob", 11, 1000)}),   // The last part, taken at 1300.
      Batch(1050, {Held("c", "carol", 12, 4000)})};  // The tail: synced at 1050.
  SaveStamp stamp;
  const auto state = ReplayLog(batches, &stamp);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->registers.size(), 3u);
  EXPECT_EQ(stamp.boot.boottime_ms, 1300);
  EXPECT_EQ(state->registers[0].remaining_ms, 5000 - 300);  // a, as of 1300.
  EXPECT_EQ(state->registers[1].remaining_ms, 1000) << "b is not shortened by the older tail's stamp";
  EXPECT_EQ(state->registers[2].remaining_ms, 4000 - 250);
}

TEST(AppendLog, AFullRecordReplacesEverythingBefore) {
  std::vector<LogBatch> batches = ThreeTurns();
  batches.push_back(Batch(1600, {Held("z", "zed", 20, 1000)}, /*full=*/true));
  SaveStamp stamp;
  const auto state = ReplayLog(batches, &stamp);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->registers.size(), 1u);
  EXPECT_EQ(state->registers[0].key, "z");
}

TEST(AppendLog, QuarantineCarriesOverFromTheLastRecord) {
  std::vector<LogBatch> batches = ThreeTurns();
  batches[2].quarantine_left_ms = 40'000;
  batches[2].needs_sync = true;
  SaveStamp stamp;
  const auto state = ReplayLog(batches, &stamp);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->quarantine_left_ms, 40'000);
  EXPECT_TRUE(state->needs_sync);
}

// Cut at every byte: the records wholly before the cut come back, the
// partial one is a torn tail, and nothing is refused.
TEST(AppendLog, EveryCutRecoversTheRecordsBeforeIt) {
  std::vector<size_t> ends;
  const std::string bytes = Encode(ThreeTurns(), &ends);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    const LogContents contents = ReadLog(std::string_view(bytes).substr(0, cut));
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    ASSERT_TRUE(contents.problem.empty()) << "cut at " << cut << ": " << contents.problem;
    ASSERT_EQ(contents.batches.size(), whole) << "cut at " << cut;
    EXPECT_EQ(contents.good_bytes, whole == 0 ? 0 : ends[whole - 1]) << "cut at " << cut;
    const bool at_boundary = cut == 0 || (whole > 0 && ends[whole - 1] == cut);
    EXPECT_EQ(contents.torn_tail.empty(), at_boundary) << "cut at " << cut;
  }
}

// Flip each byte: damage in the last record is a torn tail (cut off, the
// two records before it kept); damage before it refuses the file.
TEST(AppendLog, EveryFlippedByteIsCutAsATornTailOrRefused) {
  std::vector<size_t> ends;
  const std::string bytes = Encode(ThreeTurns(), &ends);
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    const LogContents contents = ReadLog(damaged);
    const bool in_last = at >= ends[1];
    if (in_last) {
      // Cut off as a torn tail, or refused (a flip in its header's
      // checksum looks like damage): never read as a record.
      if (contents.problem.empty()) {
        EXPECT_EQ(contents.batches.size(), 2u) << "flip at " << at;
        EXPECT_FALSE(contents.torn_tail.empty()) << "flip at " << at;
      }
    } else {
      EXPECT_FALSE(contents.problem.empty()) << "flip at " << at << " was not refused";
      EXPECT_NE(contents.problem.find("damaged record at byte"), std::string::npos);
    }
    // Never a record that was not written.
    ASSERT_LE(contents.batches.size(), 3u);
    for (size_t i = 0; i < contents.batches.size(); ++i) {
      EXPECT_EQ(EncodeLogRecord(contents.batches[i]), bytes.substr(i == 0 ? 0 : ends[i - 1],
                                                                    ends[i] - (i == 0 ? 0 : ends[i - 1])))
          << "flip at " << at << ": record " << i << " changed";
    }
  }
}

// A big full batch is cut into records (the first full, the rest
// deltas) that replay to the same state.
TEST(AppendLog, ABigBatchIsCutIntoRecordsThatReplayTheSame) {
  std::vector<cluster::SavedRegister> many;
  for (uint64_t i = 0; i < 1000; ++i) many.push_back(Held("key" + std::to_string(i), "owner", 10 + i, 5000));
  const LogBatch full = Batch(1000, many, /*full=*/true);
  const std::string bytes = Encode({Batch(900, {Held("gone", "x", 1, 100)})}) +
                            EncodeLogRecord(full, /*chunk_bytes=*/2000);
  const LogContents contents = ReadLog(bytes);
  ASSERT_TRUE(contents.problem.empty()) << contents.problem;
  ASSERT_GT(contents.batches.size(), 10u);
  EXPECT_TRUE(contents.batches[1].full);
  EXPECT_FALSE(contents.batches[2].full);
  SaveStamp stamp;
  const auto state = ReplayLog(contents.batches, &stamp);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->registers.size(), 1000u) << "the record before the full one is gone";
  EXPECT_EQ(ReplayLog(ReadLog(EncodeLogRecord(full)).batches, &stamp)->registers.size(), 1000u);
}

TEST(AppendLog, ZerosAfterTheLastRecordAreATornTail) {
  const std::string bytes = Encode(ThreeTurns()) + std::string(4096, '\0');
  const LogContents contents = ReadLog(bytes);
  EXPECT_TRUE(contents.problem.empty());
  EXPECT_EQ(contents.batches.size(), 3u);
  EXPECT_FALSE(contents.torn_tail.empty());
}

class AppendLogFile : public ::testing::Test {
 protected:
  AppendLogFile() {
    dir_ = std::filesystem::temp_directory_path() / ("lockerd-aof-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "lockerd.aof").string();
  }
  ~AppendLogFile() override { std::filesystem::remove_all(dir_); }

  std::string Contents() const {
    std::ifstream file(path_, std::ios::binary);
    std::ostringstream bytes;
    bytes << file.rdbuf();
    return bytes.str();
  }

  // A new log at path_ holding `turns`, synced.
  std::unique_ptr<AppendLog> OpenSynced(const std::vector<LogBatch>& turns) {
    std::string error;
    auto log = AppendLog::Open(path_, 0, &error);
    if (!log) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    for (const LogBatch& batch : turns) log->Add(batch);
    if (const std::string failed = log->Sync(); !failed.empty()) {
      ADD_FAILURE() << failed;
      return nullptr;
    }
    return log;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(AppendLogFile, NothingReachesTheFileBeforeSyncAndOneSyncWritesEveryQueuedTurn) {
  std::string error;
  auto log = AppendLog::Open(path_, 0, &error);
  ASSERT_TRUE(log) << error;
  for (const LogBatch& batch : ThreeTurns()) log->Add(batch);
  EXPECT_TRUE(log->has_pending());
  EXPECT_EQ(Contents(), "");
  ASSERT_EQ(log->Sync(), "");
  EXPECT_FALSE(log->has_pending());
  EXPECT_EQ(Contents(), Encode(ThreeTurns()));
  EXPECT_EQ(log->size_bytes(), Contents().size());
}

TEST_F(AppendLogFile, OpeningCutsATornTailOff) {
  const std::string good = Encode(ThreeTurns());
  {
    std::ofstream file(path_, std::ios::binary);
    file << good << "partial";
  }
  const LogContents contents = ReadLog(Contents());
  ASSERT_EQ(contents.good_bytes, good.size());
  std::string error;
  auto log = AppendLog::Open(path_, contents.good_bytes, &error);
  ASSERT_TRUE(log) << error;
  EXPECT_EQ(Contents(), good);
  log->Add(Batch(2000, {Held("d", "dan", 30, 100)}));
  ASSERT_EQ(log->Sync(), "");
  EXPECT_EQ(ReadLog(Contents()).batches.size(), 4u);
}

TEST_F(AppendLogFile, ARewriteThatCannotWriteLeavesTheLogAsItWas) {
  auto log = OpenSynced(ThreeTurns());
  ASSERT_TRUE(log);
  const std::string before = Contents();
  // Where the rewrite would write its new file stands a directory.
  ASSERT_EQ(::mkdir((path_ + ".tmp").c_str(), 0700), 0);
  bool can_go_on = false;
  EXPECT_NE(log->Rewrite(Batch(3000, {Held("x", "xavier", 40, 100)}, /*full=*/true), &can_go_on), "");
  EXPECT_TRUE(can_go_on);
  EXPECT_EQ(log->last_failure(), std::strerror(EISDIR));
  EXPECT_EQ(Contents(), before);
  EXPECT_FALSE(log->rewriting());
  // The log goes on as before.
  log->Add(Batch(3100, {Held("y", "yan", 41, 100)}));
  ASSERT_EQ(log->Sync(), "");
  const LogContents contents = ReadLog(Contents());
  ASSERT_EQ(contents.batches.size(), 4u);
  EXPECT_EQ(contents.batches[3].registers[0].key, "y");
  ::rmdir((path_ + ".tmp").c_str());
}

TEST_F(AppendLogFile, ARewriteKeepsWhatIsSyncedWhileItsSnapshotIsWritten) {
  auto log = OpenSynced(ThreeTurns());
  ASSERT_TRUE(log);
  log->Add(Batch(2900, {Held("w", "wim", 39, 100)}));
  EXPECT_FALSE(log->BeginRewrite()) << "a snapshot must not be older than what is queued";
  ASSERT_EQ(log->Sync(), "");
  // The snapshot as of now; the loop goes on syncing turns meanwhile.
  ASSERT_TRUE(log->BeginRewrite());
  log->Add(Batch(3100, {Held("y", "yan", 41, 100)}));
  ASSERT_EQ(log->Sync(), "");
  ASSERT_EQ(AppendLog::WriteSnapshot(log->rewrite_path(),
                                     {Batch(3000, {Held("x", "xavier", 40, 100)}, /*full=*/true),
                                      Batch(3050, {Held("x2", "xena", 40, 100)})}),
            "");
  // What was synced so far goes after it (a worker's step); more comes.
  ASSERT_EQ(AppendLog::AppendSynced(log->rewrite_path(), log->TakeTail()), "");
  log->Add(Batch(3200, {Held("z", "zoe", 42, 100)}));
  ASSERT_EQ(log->Sync(), "");
  int replaced_fd = -1;
  ASSERT_EQ(log->FinishRewrite(&replaced_fd), "");
  EXPECT_EQ(::close(replaced_fd), 0);
  EXPECT_FALSE(log->rewriting());
  log->Add(Batch(3300, {Held("v", "vera", 43, 100)}));
  ASSERT_EQ(log->Sync(), "");
  const LogContents contents = ReadLog(Contents());
  ASSERT_TRUE(contents.problem.empty()) << contents.problem;
  ASSERT_EQ(contents.batches.size(), 5u) << "the snapshot's two parts, the two turns synced during it, the next";
  EXPECT_TRUE(contents.batches[0].full);
  EXPECT_FALSE(contents.batches[1].full);
  EXPECT_EQ(contents.batches[1].registers[0].key, "x2");
  EXPECT_EQ(contents.batches[2].registers[0].key, "y");
  EXPECT_EQ(contents.batches[3].registers[0].key, "z");
  EXPECT_EQ(contents.batches[4].registers[0].key, "v");
  EXPECT_EQ(log->size_bytes(), Contents().size());
}

// The log a rewrite replaced gives its blocks back (cut to nothing, on a
// worker, a megabyte at a time) and is closed; the new log is untouched.
TEST_F(AppendLogFile, TheReplacedLogIsCutToNothingAndClosed) {
  auto log = OpenSynced(ThreeTurns());
  ASSERT_TRUE(log);
  std::vector<cluster::SavedRegister> many;
  for (int i = 0; i < 30'000; ++i) many.push_back(Held("key" + std::to_string(i), "owner", 50 + i, 100));
  log->Add(Batch(2900, many));
  ASSERT_EQ(log->Sync(), "");
  ASSERT_GT(log->size_bytes(), 1u << 20) << "more than one step to cut";
  ASSERT_TRUE(log->BeginRewrite());
  ASSERT_EQ(AppendLog::WriteSnapshot(log->rewrite_path(), {Batch(3000, {Held("x", "xavier", 40, 100)}, true)}), "");
  int replaced_fd = -1;
  ASSERT_EQ(log->FinishRewrite(&replaced_fd), "");
  const int watch = ::dup(replaced_fd);
  ASSERT_GE(watch, 0);
  AppendLog::ReleaseReplaced(replaced_fd, dir_.string());
  struct stat info {};
  ASSERT_EQ(::fstat(watch, &info), 0);
  EXPECT_EQ(info.st_size, 0) << "its blocks given back";
  EXPECT_EQ(info.st_nlink, 0u) << "it was the file renamed over";
  EXPECT_EQ(::fcntl(replaced_fd, F_GETFD), -1) << "closed";
  ::close(watch);
  const LogContents contents = ReadLog(Contents());
  ASSERT_EQ(contents.batches.size(), 1u);
  EXPECT_EQ(contents.batches[0].registers[0].key, "x");
}

TEST_F(AppendLogFile, RewriteLeavesOneFullRecord) {
  auto log = OpenSynced(ThreeTurns());
  ASSERT_TRUE(log);
  bool can_go_on = false;
  ASSERT_EQ(log->Rewrite(Batch(3000, {Held("x", "xavier", 40, 100)}, /*full=*/true), &can_go_on), "");
  EXPECT_TRUE(can_go_on);
  log->Add(Batch(3100, {Held("y", "yan", 41, 100)}));
  ASSERT_EQ(log->Sync(), "");
  const LogContents contents = ReadLog(Contents());
  ASSERT_EQ(contents.batches.size(), 2u);
  EXPECT_TRUE(contents.batches[0].full);
  EXPECT_EQ(log->size_bytes(), Contents().size());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

}  // namespace
}  // namespace lockerd::server
