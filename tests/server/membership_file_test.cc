#include "server/membership_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace lockerd::server {
namespace {

// A member of epoch 7 that added member 4 as a learner, promised a later
// round of the configuration register and accepted an unsettled value.
cluster::MembershipState Sample() {
  cluster::MembershipState state;
  state.adopted = cluster::Membership{7, 0b1011, 0b10000};
  state.promised = {12, 3, 0};
  state.accepted = {11, 1, 2};
  state.value = cluster::ConfigValue{cluster::Membership{8, 0b11011, 0}, 0b1011, false};
  return state;
}

std::string TempDir(const char* name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(MembershipFile, RoundTripsEveryField) {
  std::string problem;
  const auto decoded = DecodeMembership(EncodeMembership(Sample()), &problem);
  ASSERT_TRUE(decoded.has_value()) << problem;
  EXPECT_EQ(*decoded, Sample());
}

TEST(MembershipFile, AJoiningMembersEpochZeroRoundTrips) {
  cluster::MembershipState joining;
  joining.adopted = cluster::Membership{0, 0b110, 0};
  joining.joined = true;
  std::string problem;
  const auto decoded = DecodeMembership(EncodeMembership(joining), &problem);
  ASSERT_TRUE(decoded.has_value()) << problem;
  EXPECT_EQ(*decoded, joining);
}

TEST(MembershipFile, DamagedBytesAreRefused) {
  const std::string bytes = EncodeMembership(Sample());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::string problem;
    EXPECT_FALSE(DecodeMembership(bytes.substr(0, cut), &problem).has_value()) << cut;
    EXPECT_FALSE(problem.empty());
  }
  std::string problem;
  EXPECT_FALSE(DecodeMembership(bytes + "x", &problem).has_value()) << "trailing bytes";
  std::string other_version = bytes;
  other_version.replace(other_version.find("\r\n2\r\n"), 5, "\r\n9\r\n");
  EXPECT_FALSE(DecodeMembership(other_version, &problem).has_value());
  EXPECT_NE(problem.find("version"), std::string::npos) << problem;
  // A voter that is also a learner is no configuration.
  cluster::MembershipState bad = Sample();
  bad.adopted.learners |= 1;
  EXPECT_FALSE(DecodeMembership(EncodeMembership(bad), &problem).has_value());
}

TEST(MembershipFile, SaveReplacesAndLoadReadsBack) {
  const std::string dir = TempDir("lockerd-membership-test");
  MembershipFile file(dir);
  MembershipFile::Loaded none = file.Load();
  EXPECT_FALSE(none.state.has_value()) << "a folder without the file";
  EXPECT_EQ(none.problem, "");
  ASSERT_EQ(file.Save(Sample()), "");
  cluster::MembershipState later = Sample();
  later.adopted = later.value.membership;
  ASSERT_EQ(file.Save(later), "");
  const MembershipFile::Loaded loaded = file.Load();
  ASSERT_TRUE(loaded.state.has_value()) << loaded.problem;
  EXPECT_EQ(*loaded.state, later);
  EXPECT_FALSE(std::filesystem::exists(file.path() + ".tmp"));
}

TEST(MembershipFile, ADamagedFileIsAProblemNotAnAbsence) {
  const std::string dir = TempDir("lockerd-membership-damaged");
  MembershipFile file(dir);
  std::ofstream(file.path()) << "lockerd-membership but not RESP";
  const MembershipFile::Loaded loaded = file.Load();
  EXPECT_FALSE(loaded.state.has_value());
  EXPECT_NE(loaded.problem.find(file.path()), std::string::npos) << loaded.problem;
}

}  // namespace
}  // namespace lockerd::server
