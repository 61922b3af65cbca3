// A TLS client for integration tests that must choose when to read: the
// bytes go through the server's own TlsStream (memory BIOs) over a plain
// non-blocking socket, so a test can pipeline a lot, stop reading while
// the server writes, and then decode every reply. Certificates come from
// TlsCerts. Never raises SIGPIPE.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/net/tls.h"
#include "server/security/tls_stream.h"
#include "tests/support/resp_reply.h"
#include "tests/support/tls_certs.h"

namespace lockerd::testing {

class TlsClient {
 public:
  // Connects to 127.0.0.1:port and completes the handshake, presenting
  // `cert`; ok() says whether it worked.
  TlsClient(int port, const TlsCerts& certs, const std::string& cert = "client");
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return fd_ >= 0 && tls_ && tls_->handshake_done() && !tls_->failed(); }
  bool closed_by_server() const { return closed_; }
  const std::string& error() const { return error_; }

  // Encrypts and writes all of `plaintext` (reading nothing meanwhile).
  bool Send(std::string_view plaintext,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Reply> ReadReplies(size_t count,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the server closes; false if still open after `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  // One socket read, fed to the session; false on close or nothing read.
  bool ReadSome(std::chrono::milliseconds wait);
  bool WriteAll(std::string_view bytes, std::chrono::steady_clock::time_point deadline);
  bool FlushOutput(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool closed_ = false;
  std::string error_;
  std::unique_ptr<server::TlsContext> context_;
  std::unique_ptr<server::TlsStream> tls_;
  std::string plaintext_;  // Decrypted, not yet decoded into replies.
};

}  // namespace lockerd::testing
