#include "server/security/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstring>

namespace lockerd::server {
namespace {

// Plaintext is pulled out of the session in pieces of this size (a TLS
// record holds at most 16 KiB).
constexpr size_t kReadPieceBytes = 16 * 1024;

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// The first queued OpenSSL error as text, and the queue cleared.
std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

std::unique_ptr<TlsStream> TlsStream::Create(ssl_ctx_st* context, Role role,
                                             std::string_view peer_host) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context);
  if (ssl == nullptr) return nullptr;
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    SSL_free(ssl);
    return nullptr;
  }
  // An empty memory BIO means "no data yet", not end of file.
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(ssl, rbio, wbio);  // The SSL owns both from here.
  if (role == Role::kAccept) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    const std::string host(peer_host);
    if (!host.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const bool ok = IsIpAddress(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                                        : (SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
                                           SSL_set1_host(ssl, host.c_str()) == 1);
      if (!ok) {
        SSL_free(ssl);
        return nullptr;
      }
    }
  }
  return std::unique_ptr<TlsStream>(new TlsStream(ssl));
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Result TlsStream::Fail(int ret, const char* during) {
  const int code = SSL_get_error(ssl_, ret);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return Result::kOk;
  }
  if (code == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return Result::kClosed;
  }
  failed_ = true;
  error_ = std::string(during) + ": ";
  const long verify = SSL_get_verify_result(ssl_);
  std::string reason = TakeOpenSslError();
  if (verify != X509_V_OK) {
    reason = std::string("certificate verify failed (") +
             X509_verify_cert_error_string(verify) + ")";
  }
  error_ += reason.empty() ? "connection broken (" + std::to_string(code) + ")" : reason;
  return Result::kFailed;
}

TlsStream::Result TlsStream::Handshake() {
  if (failed_) return Result::kFailed;
  if (SSL_is_init_finished(ssl_)) return Result::kOk;
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return Result::kOk;
  return Fail(ret, "TLS handshake");
}

TlsStream::Result TlsStream::Feed(std::string_view ciphertext, std::string* plaintext) {
  if (failed_) return Result::kFailed;
  if (!ciphertext.empty()) {
    // A memory BIO takes everything (it grows); the caller feeds one socket
    // read at a time, so this is bounded by the read buffer.
    const int written = BIO_write(SSL_get_rbio(ssl_), ciphertext.data(),
                                  static_cast<int>(ciphertext.size()));
    if (written != static_cast<int>(ciphertext.size())) {
      failed_ = true;
      error_ = "TLS: cannot buffer received bytes";
      return Result::kFailed;
    }
  }
  // SSL_read drives the handshake too; read until the session wants more.
  while (true) {
    const size_t start = plaintext->size();
    plaintext->resize(start + kReadPieceBytes);
    size_t got = 0;
    ERR_clear_error();
    const int ret = SSL_read_ex(ssl_, plaintext->data() + start, kReadPieceBytes, &got);
    plaintext->resize(start + got);
    if (ret == 1) continue;
    return Fail(ret, SSL_is_init_finished(ssl_) ? "TLS read" : "TLS handshake");
  }
}

size_t TlsStream::Write(std::string_view plaintext) {
  if (failed_ || plaintext.empty()) return 0;
  ERR_clear_error();
  size_t written = 0;
  // Without SSL_MODE_ENABLE_PARTIAL_WRITE, success means all of it: a
  // memory BIO never pushes back.
  const int ret = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written);
  if (ret == 1) return written;
  Fail(ret, SSL_is_init_finished(ssl_) ? "TLS write" : "TLS handshake");
  return 0;
}

void TlsStream::Shutdown() {
  if (failed_ || shutdown_sent_ || !SSL_is_init_finished(ssl_)) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

void TlsStream::TakeOutput(std::string* out) {
  BIO* wbio = SSL_get_wbio(ssl_);
  const size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return;
  const size_t start = out->size();
  out->resize(start + pending);
  const int got = BIO_read(wbio, out->data() + start, static_cast<int>(pending));
  out->resize(start + static_cast<size_t>(got > 0 ? got : 0));
}

bool TlsStream::has_output() const { return BIO_ctrl_pending(SSL_get_wbio(ssl_)) > 0; }

bool TlsStream::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

bool TlsStream::peer_verified() const {
  X509* certificate = SSL_get0_peer_certificate(ssl_);
  return certificate != nullptr && SSL_get_verify_result(ssl_) == X509_V_OK;
}

std::string TlsStream::version() const { return SSL_get_version(ssl_); }

}  // namespace lockerd::server
