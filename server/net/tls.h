// The TLS contexts built from the tls-* settings, once, at startup: one for
// connections this member accepts (clients and incoming peer links on
// tls-port) and one for the peer links it opens (tls-cluster). Certificates,
// the key and the CA are loaded and checked here, so that a bad file stops
// the start with a message naming it instead of failing every handshake.
//
// It does not do IO: a TlsStream (tls_stream.h) is one session on a context.
#pragma once

#include <memory>
#include <string>

#include "server/config/config.h"

struct ssl_ctx_st;

namespace lockerd::server {

class TlsContext {
 public:
  // Null, with *error naming the setting and file, when a file is missing,
  // unreadable or does not fit (a key that is not the certificate's).
  static std::unique_ptr<TlsContext> Create(const Config& config, std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // For accepted connections: presents this member's certificate and asks
  // for the client's as tls-auth-clients says.
  ssl_ctx_st* accept_context() const { return accept_; }
  // For outgoing peer links: presents this member's certificate and
  // verifies the peer's against the CA.
  ssl_ctx_st* connect_context() const { return connect_; }

 private:
  TlsContext() = default;
  ssl_ctx_st* accept_ = nullptr;
  ssl_ctx_st* connect_ = nullptr;
};

}  // namespace lockerd::server
