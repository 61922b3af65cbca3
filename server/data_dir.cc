#include "server/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lockerd::server {
namespace {

std::string Describe(const DataDir::Members& members) {
  if (members.cluster.empty()) return "(no cluster: a member alone)";
  std::string text;
  for (const std::string& member : members.cluster) text += (text.empty() ? "" : ",") + member;
  return text + " as " + members.self;
}

std::string Encode(const DataDir::Members& members) {
  std::string text = "self " + members.self + "\n";
  for (const std::string& member : members.cluster) text += "member " + member + "\n";
  return text;
}

bool Decode(const std::string& text, DataDir::Members* members) {
  std::istringstream lines(text);
  std::string line;
  bool self_seen = false;
  while (std::getline(lines, line)) {
    if (line.rfind("self ", 0) == 0) {
      members->self = line.substr(5);
      self_seen = true;
    } else if (line.rfind("member ", 0) == 0) {
      members->cluster.push_back(line.substr(7));
    } else if (!line.empty()) {
      return false;
    }
  }
  return self_seen;
}

// Writes `text` to `path` through a synced temporary file and a rename.
std::string WriteFileSynced(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create " + temporary + ": " + std::strerror(errno);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temporary.c_str(), path.c_str()) != 0) {
    return "cannot write " + path + ": " + std::strerror(errno);
  }
  return {};
}

}  // namespace

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string DataDir::Lock() {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) return "cannot create dir " + dir_ + ": " + error.message();
  const int fd = ::open(lock_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot open " + lock_path() + ": " + std::strerror(errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (lock_errno != EWOULDBLOCK) return "cannot lock " + lock_path() + ": " + std::strerror(lock_errno);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return "dir " + dir_ + " is in use by another lockerd process (pid " + holder +
           "); each member needs a dir of its own";
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const std::string message = "cannot write " + lock_path() + ": " + std::strerror(errno);
    ::close(fd);
    return message;
  }
  lock_fd_ = fd;
  return {};
}

std::string DataDir::CheckMembers(const Members& members, bool changed_on_purpose, bool* changed) {
  *changed = false;
  std::ifstream file(members_path());
  if (file) {
    std::ostringstream text;
    text << file.rdbuf();
    Members remembered;
    if (!Decode(text.str(), &remembered)) return members_path() + " is not a member list lockerd wrote";
    const bool same = remembered.cluster == members.cluster && remembered.self == members.self;
    if (same) return {};
    if (!changed_on_purpose) {
      return "the member list changed: dir " + dir_ + " was used with " + Describe(remembered) +
             ", and this start has " + Describe(members) +
             ". Members restarted one at a time onto a new list can form two majorities and grant a "
             "lock twice. To change the list safely: stop every member, then start every member "
             "with the new list and --cluster-list-changed yes (each then waits out a restart "
             "quarantine, as after a crash)";
    }
    *changed = true;
  }
  return WriteFileSynced(members_path(), Encode(members));
}

}  // namespace lockerd::server
