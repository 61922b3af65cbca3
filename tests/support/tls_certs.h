// Test certificates made at run time by tests/support/make_certs.sh (the
// openssl command line) in a fresh temporary directory, removed when the
// object goes. Nothing secret is checked in and nothing expires in the repo.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace lockerd::testing {

class TlsCerts {
 public:
  // Null (and a test failure) if the script failed.
  static std::unique_ptr<TlsCerts> Make();
  ~TlsCerts();
  TlsCerts(const TlsCerts&) = delete;
  TlsCerts& operator=(const TlsCerts&) = delete;

  const std::string& dir() const { return dir_; }
  // "<dir>/<name>", e.g. Path("ca.crt"). Files: ca.crt, server.crt/.key
  // (for 127.0.0.1, ::1 and localhost, server and client use), client.crt/
  // .key, other-ca.crt and other.crt/.key (signed by the other CA).
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // lockerd settings for a member serving TLS with `cert` ("server" or
  // "other"), verifying against `ca` ("ca" or "other-ca").
  std::vector<std::string> ServerArgs(const std::string& cert = "server",
                                      const std::string& ca = "ca") const;
  // redis-cli options for a TLS connection presenting `cert` (none if
  // empty) and trusting `ca`.
  std::vector<std::string> CliArgs(const std::string& cert = "client",
                                   const std::string& ca = "ca") const;

 private:
  TlsCerts() = default;
  std::string dir_;
};

}  // namespace lockerd::testing
