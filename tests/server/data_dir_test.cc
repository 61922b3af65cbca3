#include "server/data_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace lockerd::server {
namespace {

std::string FreshDir(const char* name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(DataDir, CreatesTheFolderWithItsParents) {
  const std::string dir = FreshDir("lockerd-dir-parents") + "/a/b";
  DataDir data(dir);
  EXPECT_EQ(data.Lock(), "");
  EXPECT_TRUE(std::filesystem::is_directory(dir));
}

TEST(DataDir, ASecondProcessIsRefusedAndToldTheHoldersPid) {
  const std::string dir = FreshDir("lockerd-dir-lock");
  DataDir data(dir);
  ASSERT_EQ(data.Lock(), "");
  // flock() locks belong to the open file: another process (a child here)
  // must be refused.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    DataDir second(dir);
    const std::string error = second.Lock();
    [[maybe_unused]] const ssize_t n = write(pipe_fds[1], error.data(), error.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  char buffer[512] = {};
  const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer - 1);
  waitpid(child, nullptr, 0);
  const std::string error(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  EXPECT_NE(error.find("in use by another lockerd process (pid " + std::to_string(getpid()) + ")"),
            std::string::npos)
      << error;
}

TEST(DataDir, TheLockGoesWithTheProcess) {
  const std::string dir = FreshDir("lockerd-dir-relock");
  {
    DataDir first(dir);
    ASSERT_EQ(first.Lock(), "");
  }
  DataDir again(dir);
  EXPECT_EQ(again.Lock(), "");
}

TEST(DataDir, AnotherMemberListIsRefusedUnlessChangedOnPurpose) {
  const std::string dir = FreshDir("lockerd-dir-members");
  DataDir data(dir);
  ASSERT_EQ(data.Lock(), "");
  const DataDir::Members old_list{{"h:1", "h:2", "h:3"}, "h:1"};
  bool changed = true;
  EXPECT_EQ(data.CheckMembers(old_list, false, &changed), "") << "first start: remembered";
  EXPECT_FALSE(changed);
  EXPECT_EQ(data.CheckMembers(old_list, false, &changed), "");
  const DataDir::Members new_list{{"h:1", "h:2", "h:4"}, "h:1"};
  const std::string error = data.CheckMembers(new_list, false, &changed);
  EXPECT_NE(error.find("h:1,h:2,h:3 as h:1"), std::string::npos) << error;
  EXPECT_NE(error.find("h:1,h:2,h:4 as h:1"), std::string::npos) << error;
  EXPECT_NE(error.find("stop every member"), std::string::npos) << error;
  EXPECT_NE(error.find("cluster-list-changed yes"), std::string::npos) << error;
  EXPECT_EQ(data.CheckMembers(new_list, true, &changed), "");
  EXPECT_TRUE(changed) << "it starts as after a crash";
  EXPECT_EQ(data.CheckMembers(new_list, false, &changed), "") << "the new list is remembered";
  EXPECT_FALSE(changed);
  // A member alone that joins a cluster changes its list too.
  EXPECT_NE(data.CheckMembers({{}, ""}, false, &changed), "");
}

}  // namespace
}  // namespace lockerd::server
