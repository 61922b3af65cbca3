#include "server/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace lockerd::server {
namespace {

cluster::NodeState Sample() {
  cluster::NodeState state;
  state.token_counter = 1234;
  state.ballot_floor = {77, 0, 3};
  state.registers.push_back({"job:1", {72, 1}, {70, 2, 5}, true, "host:42", 1200, 5000});
  state.registers.push_back({std::string("bin\0key\r\n", 9), {77, 0}, {77, 0}, true, "", 1234, 1});
  // A released key: free, with its ballots and its tombstone's time left.
  state.registers.push_back({"released", {80, 1}, {79, 2}, false, "", 0, 4321});
  state.quarantine_left_ms = 420;
  state.needs_sync = true;
  return state;
}

const SaveStamp kStamp{1'700'000'000'000, {"6f1e...-boot", 987'654}};

TEST(StateFile, RoundTripsBinarySafely) {
  SaveStamp stamp;
  std::string problem;
  const auto decoded = DecodeState(EncodeState(Sample(), kStamp), &stamp, &problem);
  ASSERT_TRUE(decoded.has_value()) << problem;
  EXPECT_EQ(stamp.wall_ms, 1'700'000'000'000);
  EXPECT_EQ(stamp.boot.boot_id, "6f1e...-boot");
  EXPECT_EQ(stamp.boot.boottime_ms, 987'654);
  EXPECT_EQ(decoded->token_counter, 1234u);
  EXPECT_EQ(decoded->ballot_floor, (cluster::Ballot{77, 0, 3}));
  ASSERT_EQ(decoded->registers.size(), 3u);
  const cluster::SavedRegister& first = decoded->registers[0];
  EXPECT_EQ(first.promised, (cluster::Ballot{72, 1}));
  EXPECT_EQ(first.accepted, (cluster::Ballot{70, 2, 5})) << "with its step";
  EXPECT_TRUE(first.held);
  EXPECT_EQ(first.owner, "host:42");
  EXPECT_EQ(first.token, 1200u);
  EXPECT_EQ(first.remaining_ms, 5000);
  EXPECT_EQ(decoded->registers[1].key, std::string("bin\0key\r\n", 9));
  const cluster::SavedRegister& released = decoded->registers[2];
  EXPECT_FALSE(released.held);
  EXPECT_EQ(released.accepted, (cluster::Ballot{79, 2}));
  EXPECT_EQ(released.remaining_ms, 4321);
  EXPECT_EQ(decoded->quarantine_left_ms, 420);
  EXPECT_TRUE(decoded->needs_sync);
}

TEST(StateFile, TruncatedFileIsRefused) {
  const std::string bytes = EncodeState(Sample(), kStamp);
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    SaveStamp stamp;
    std::string problem;
    EXPECT_FALSE(DecodeState(bytes.substr(0, cut), &stamp, &problem).has_value()) << cut;
    EXPECT_FALSE(problem.empty());
  }
}

TEST(StateFile, AnOlderVersionIsRefusedNotMisread) {
  // Version 2 kept held leases only; its file would restore less than the
  // member knew. Refused, the member starts as after a crash.
  const std::string v2 =
      "*9\r\n$13\r\nlockerd-state\r\n$1\r\n2\r\n$1\r\n5\r\n$1\r\n0\r\n$1\r\n0\r\n$1\r\n0\r\n"
      "$1\r\n0\r\n$1\r\n0\r\n$1\r\n0\r\n*2\r\n$3\r\nend\r\n$1\r\n0\r\n";
  SaveStamp stamp;
  std::string problem;
  EXPECT_FALSE(DecodeState(v2, &stamp, &problem).has_value());
  EXPECT_NE(problem.find("version"), std::string::npos) << problem;
}

TEST(StateFile, CleanStopThenLoad) {
  const std::string dir = ::testing::TempDir() + "/lockerd-state-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  StateStore store(dir);
  EXPECT_FALSE(store.Load().unclean) << "a first start is clean";
  ASSERT_EQ(store.MarkRunning(/*journaled=*/false), "");
  EXPECT_TRUE(store.Load().unclean) << "running marker present: a crash would look like this";
  ASSERT_EQ(store.SaveClean(Sample(), kStamp), "");
  const PreviousRun previous = store.Load();
  EXPECT_FALSE(previous.unclean);
  ASSERT_TRUE(previous.saved.has_value());
  EXPECT_EQ(previous.saved_at.boot.boottime_ms, 987'654);
  EXPECT_EQ(previous.saved->registers.size(), 3u);
  std::filesystem::remove_all(dir);
}

TEST(BootClock, DowntimeIsKnownOnlyWithinOneBoot) {
  EXPECT_EQ(ElapsedWithinBoot({"a", 1000}, {"a", 4000}), std::optional<int64_t>(3000));
  EXPECT_EQ(ElapsedWithinBoot({"a", 1000}, {"b", 4000}), std::nullopt) << "rebooted";
  EXPECT_EQ(ElapsedWithinBoot({"", 1000}, {"", 4000}), std::nullopt) << "boot unknown";
  EXPECT_EQ(ElapsedWithinBoot({"a", 5000}, {"a", 4000}), std::nullopt) << "went back: not one boot";
  const BootStamp now = ReadBootStamp();
  EXPECT_FALSE(now.boot_id.empty()) << "Linux says which boot this is";
  EXPECT_GT(now.boottime_ms, 0);
}

}  // namespace
}  // namespace lockerd::server
