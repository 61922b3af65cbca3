#include "server/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace lockerd::server {
namespace {

cluster::NodeState Sample() {
  cluster::NodeState state;
  state.token_counter = 1234;
  state.ballot_floor = {77, 0, 3};
  state.leases.push_back({"job:1", "host:42", 1200, 5000, {70, 2, 5}});
  state.leases.push_back({std::string("bin\0key\r\n", 9), "", 1234, 1, {77, 0}});
  state.quarantine_left_ms = 420;
  state.needs_sync = true;
  return state;
}

TEST(StateFile, RoundTripsBinarySafely) {
  int64_t wall_ms = 0;
  std::string problem;
  const auto decoded = DecodeState(EncodeState(Sample(), 1'700'000'000'000), &wall_ms, &problem);
  ASSERT_TRUE(decoded.has_value()) << problem;
  EXPECT_EQ(wall_ms, 1'700'000'000'000);
  EXPECT_EQ(decoded->token_counter, 1234u);
  EXPECT_EQ(decoded->ballot_floor, (cluster::Ballot{77, 0, 3}));
  ASSERT_EQ(decoded->leases.size(), 2u);
  EXPECT_EQ(decoded->leases[0].accepted, (cluster::Ballot{70, 2, 5})) << "with its step";
  EXPECT_EQ(decoded->leases[1].accepted, (cluster::Ballot{77, 0}));
  EXPECT_EQ(decoded->leases[1].key, std::string("bin\0key\r\n", 9));
  EXPECT_EQ(decoded->leases[0].remaining_ms, 5000);
  EXPECT_EQ(decoded->quarantine_left_ms, 420);
  EXPECT_TRUE(decoded->needs_sync);
}

TEST(StateFile, TruncatedFileIsRefused) {
  const std::string bytes = EncodeState(Sample(), 1);
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    int64_t wall_ms = 0;
    std::string problem;
    EXPECT_FALSE(DecodeState(bytes.substr(0, cut), &wall_ms, &problem).has_value()) << cut;
    EXPECT_FALSE(problem.empty());
  }
}

TEST(StateFile, CleanStopThenLoad) {
  const std::string dir = ::testing::TempDir() + "/lockerd-state-test";
  std::filesystem::remove_all(dir);
  StateStore store(dir);
  EXPECT_FALSE(store.Load().unclean) << "a first start is clean";
  ASSERT_EQ(store.MarkRunning(), "");
  EXPECT_TRUE(store.Load().unclean) << "running marker present: a crash would look like this";
  ASSERT_EQ(store.SaveClean(Sample(), 99), "");
  const PreviousRun previous = store.Load();
  EXPECT_FALSE(previous.unclean);
  ASSERT_TRUE(previous.saved.has_value());
  EXPECT_EQ(previous.saved_wall_ms, 99);
  EXPECT_EQ(previous.saved->leases.size(), 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lockerd::server
