// One TLS session over memory BIOs, so that libuv keeps doing the socket IO:
// ciphertext read from the socket is fed in and plaintext comes out;
// plaintext replies go in and ciphertext comes out for uv_write. It never
// touches a socket, a loop or a clock, so two streams can be wired back to
// back in memory (tests/server/security/tls_stream_test.cc).
//
// It does not buffer plaintext itself: Feed hands out everything it could
// decrypt, and Write takes nothing (returns 0) until the handshake is done,
// so the caller keeps the bytes it could not write yet.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct ssl_st;
struct ssl_ctx_st;

namespace lockerd::server {

class TlsStream {
 public:
  enum class Role { kAccept, kConnect };
  enum class Result {
    kOk,      // Go on; there may be ciphertext to send (has_output()).
    kClosed,  // The peer sent close_notify: it will send nothing more.
    kFailed,  // Handshake or record failure; error() says why. Close.
  };

  // A session on `context` (from TlsContext). For kConnect, `peer_host` is
  // the name or IP address the peer's certificate must be for (empty: the
  // certificate is checked against the CA only). Null if OpenSSL fails.
  static std::unique_ptr<TlsStream> Create(ssl_ctx_st* context, Role role,
                                           std::string_view peer_host = {});
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Starts the handshake (a connecting side's ClientHello goes to the output).
  Result Handshake();
  // Ciphertext from the socket in; the plaintext it held is appended to
  // `plaintext` (also when the result is kClosed).
  Result Feed(std::string_view ciphertext, std::string* plaintext);
  // Plaintext in; returns how many bytes were taken: all of them once the
  // handshake is done, 0 while it still waits for the peer (WANT_READ) or
  // after a failure (failed()).
  size_t Write(std::string_view plaintext);
  // Queues close_notify (best effort, once).
  void Shutdown();
  // Moves the ciphertext waiting for the socket to the end of `out`.
  void TakeOutput(std::string* out);

  bool has_output() const;
  bool handshake_done() const;
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  // The peer presented a certificate and it verified against the CA.
  bool peer_verified() const;
  // "TLSv1.3" and the like, once the handshake is done.
  std::string version() const;

 private:
  explicit TlsStream(ssl_st* ssl) : ssl_(ssl) {}
  Result Fail(int ret, const char* during);

  ssl_st* ssl_;  // Owns its two memory BIOs.
  bool failed_ = false;
  bool shutdown_sent_ = false;
  std::string error_;
};

}  // namespace lockerd::server
