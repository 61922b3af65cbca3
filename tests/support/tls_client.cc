#include "tests/support/tls_client.h"

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

int LeftMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

TlsClient::TlsClient(int port, const TlsCerts& certs, const std::string& cert) {
  server::Config config;
  config.tls_cert_file = certs.Path(cert + ".crt");
  config.tls_key_file = certs.Path(cert + ".key");
  config.tls_ca_cert_file = certs.Path("ca.crt");
  context_ = server::TlsContext::Create(config, &error_);
  if (!context_) return;
  tls_ = server::TlsStream::Create(context_->connect_context(), server::TlsStream::Role::kConnect,
                                   "127.0.0.1");
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (!tls_ || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    error_ = "cannot connect";
    return;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  tls_->Handshake();
  while (!tls_->handshake_done() && !tls_->failed() && LeftMs(deadline) > 0) {
    if (!FlushOutput(deadline)) break;
    if (!ReadSome(std::chrono::milliseconds(LeftMs(deadline))) && closed_) break;
  }
  FlushOutput(deadline);  // The client's Finished.
  if (tls_->failed()) error_ = tls_->error();
}

TlsClient::~TlsClient() {
  if (fd_ >= 0) close(fd_);
}

bool TlsClient::WriteAll(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    if (LeftMs(deadline) == 0) return false;
    pollfd poll_fd{fd_, POLLOUT, 0};
    poll(&poll_fd, 1, LeftMs(deadline));
  }
  return true;
}

bool TlsClient::FlushOutput(Clock::time_point deadline) {
  std::string out;
  tls_->TakeOutput(&out);
  return WriteAll(out, deadline);
}

bool TlsClient::Send(std::string_view plaintext, std::chrono::milliseconds timeout) {
  if (!ok()) return false;
  const auto deadline = Clock::now() + timeout;
  if (tls_->Write(plaintext) != plaintext.size()) return false;
  return FlushOutput(deadline);
}

bool TlsClient::ReadSome(std::chrono::milliseconds wait) {
  if (fd_ < 0 || closed_) return false;
  pollfd poll_fd{fd_, POLLIN, 0};
  if (poll(&poll_fd, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buffer[64 * 1024];
  const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  const auto result = tls_->Feed(std::string_view(buffer, static_cast<size_t>(n)), &plaintext_);
  if (result != server::TlsStream::Result::kOk) {
    closed_ = true;
    if (tls_->failed()) error_ = tls_->error();
    return false;
  }
  return true;
}

std::vector<Reply> TlsClient::ReadReplies(size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<Reply> replies;
  size_t at = 0;
  while (replies.size() < count) {
    size_t consumed = 0;
    if (auto reply = ParseReply(std::string_view(plaintext_).substr(at), &consumed)) {
      at += consumed;
      replies.push_back(std::move(*reply));
      continue;
    }
    if (closed_ || LeftMs(deadline) == 0) break;
    ReadSome(std::chrono::milliseconds(LeftMs(deadline)));
  }
  plaintext_.erase(0, at);
  return replies;
}

bool TlsClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_ && LeftMs(deadline) > 0) ReadSome(std::chrono::milliseconds(LeftMs(deadline)));
  return closed_;
}

}  // namespace lockerd::testing
