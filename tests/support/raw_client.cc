#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace lockerd::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

}  // namespace

RawClient::RawClient(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return;
  }
  // Non-blocking from here on: every wait is a poll with a deadline.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
}

RawClient::~RawClient() { Close(); }

void RawClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

long RawClient::SendSome(std::string_view bytes, std::chrono::milliseconds wait) {
  if (fd_ < 0) return -1;
  if (wait.count() > 0) {
    pollfd poll_fd{fd_, POLLOUT, 0};
    poll(&poll_fd, 1, static_cast<int>(wait.count()));
  }
  const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<long>(n);
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

bool RawClient::Send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    const long n = SendSome(bytes);
    if (n < 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
    if (bytes.empty()) break;
    if (Left(deadline).count() == 0) return false;
    pollfd poll_fd{fd_, POLLOUT, 0};
    poll(&poll_fd, 1, static_cast<int>(Left(deadline).count()));
  }
  return true;
}

bool RawClient::ReadSome(std::chrono::milliseconds wait) {
  if (fd_ < 0 || closed_by_server_) return false;
  pollfd poll_fd{fd_, POLLIN, 0};
  if (poll(&poll_fd, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buffer[64 * 1024];
  const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
  if (n > 0) {
    received_.append(buffer, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  closed_by_server_ = true;  // EOF, or a reset after the server closed.
  return false;
}

std::optional<Reply> RawClient::ReadReply(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    size_t consumed = 0;
    if (auto reply = ParseReply(received_, &consumed)) {
      received_.erase(0, consumed);
      return reply;
    }
    if (fd_ < 0 || closed_by_server_ || Left(deadline).count() == 0) return std::nullopt;
    ReadSome(Left(deadline));
  }
}

std::vector<Reply> RawClient::ReadReplies(size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<Reply> replies;
  while (replies.size() < count) {
    auto reply = ReadReply(Left(deadline));
    if (!reply) break;
    replies.push_back(std::move(*reply));
  }
  return replies;
}

bool RawClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (fd_ >= 0 && !closed_by_server_ && Left(deadline).count() > 0) ReadSome(Left(deadline));
  return closed_by_server_;
}

}  // namespace lockerd::testing
