#include "server/net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>

namespace lockerd::server {
namespace {

std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown error";
}

bool Readable(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  std::fclose(file);
  return true;
}

// "tls-cert-file '/x/y.crt': <why>"
std::string FileError(const char* setting, const std::string& path, const std::string& why) {
  return std::string(setting) + " '" + path + "': " + why;
}

// Everything both contexts share: protocols, this member's certificate and
// key, the CA, no renegotiation.
SSL_CTX* NewContext(const Config& config, bool accept, std::string* error) {
  SSL_CTX* context = SSL_CTX_new(accept ? TLS_server_method() : TLS_client_method());
  if (context == nullptr) {
    *error = "cannot create a TLS context: " + OpenSslReason();
    return nullptr;
  }
  const auto fail = [&](std::string why) {
    *error = std::move(why);
    SSL_CTX_free(context);
    return nullptr;
  };
  // Renegotiation lets a client make the server redo expensive handshakes on
  // an open connection; nothing here needs it. Compression invites CRIME.
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                   SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_min_proto_version(context, config.tls_protocol_min);
  SSL_CTX_set_max_proto_version(context, config.tls_protocol_max);
  if (!Readable(config.tls_cert_file)) {
    return fail(FileError("tls-cert-file", config.tls_cert_file, "cannot read it"));
  }
  if (SSL_CTX_use_certificate_chain_file(context, config.tls_cert_file.c_str()) != 1) {
    return fail(FileError("tls-cert-file", config.tls_cert_file,
                          "not a PEM certificate (" + OpenSslReason() + ")"));
  }
  if (!Readable(config.tls_key_file)) {
    return fail(FileError("tls-key-file", config.tls_key_file, "cannot read it"));
  }
  if (SSL_CTX_use_PrivateKey_file(context, config.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(FileError("tls-key-file", config.tls_key_file,
                          "not a PEM private key (" + OpenSslReason() + ")"));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(FileError("tls-key-file", config.tls_key_file,
                          "is not the key of tls-cert-file '" + config.tls_cert_file + "'"));
  }
  const char* ca_file = config.tls_ca_cert_file.empty() ? nullptr : config.tls_ca_cert_file.c_str();
  const char* ca_dir = config.tls_ca_cert_dir.empty() ? nullptr : config.tls_ca_cert_dir.c_str();
  if (ca_file != nullptr && !Readable(config.tls_ca_cert_file)) {
    return fail(FileError("tls-ca-cert-file", config.tls_ca_cert_file, "cannot read it"));
  }
  if ((ca_file != nullptr || ca_dir != nullptr) &&
      SSL_CTX_load_verify_locations(context, ca_file, ca_dir) != 1) {
    return fail(ca_file != nullptr
                    ? FileError("tls-ca-cert-file", config.tls_ca_cert_file,
                                "not a PEM certificate (" + OpenSslReason() + ")")
                    : FileError("tls-ca-cert-dir", config.tls_ca_cert_dir, OpenSslReason()));
  }
  return context;
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::Create(const Config& config, std::string* error) {
  std::unique_ptr<TlsContext> tls(new TlsContext());
  tls->accept_ = NewContext(config, /*accept=*/true, error);
  if (tls->accept_ == nullptr) return nullptr;
  // Peers on a tls-cluster must present a certificate from the CA: when
  // clients need not, one is still asked for and verified if given, and
  // PEER HELLO checks that it was (commands_peer.cc).
  TlsAuthClients auth = config.tls_auth_clients;
  if (config.tls_cluster && auth == TlsAuthClients::kNo) auth = TlsAuthClients::kOptional;
  int mode = SSL_VERIFY_NONE;
  if (auth == TlsAuthClients::kYes) mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  if (auth == TlsAuthClients::kOptional) mode = SSL_VERIFY_PEER;
  SSL_CTX_set_verify(tls->accept_, mode, nullptr);
  // No session resumption: every connection proves its certificate afresh.
  SSL_CTX_set_session_cache_mode(tls->accept_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(tls->accept_, 0);
  tls->connect_ = NewContext(config, /*accept=*/false, error);
  if (tls->connect_ == nullptr) return nullptr;
  SSL_CTX_set_verify(tls->connect_, SSL_VERIFY_PEER, nullptr);
  return tls;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(accept_);
  SSL_CTX_free(connect_);
}

}  // namespace lockerd::server
