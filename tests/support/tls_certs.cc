#include "tests/support/tls_certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>

namespace lockerd::testing {

std::unique_ptr<TlsCerts> TlsCerts::Make() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lockerd-certs-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a temporary directory for certificates";
    return nullptr;
  }
  std::unique_ptr<TlsCerts> certs(new TlsCerts());
  certs->dir_ = pattern;
  const std::string command = std::string("'") + LOCKERD_MAKE_CERTS + "' '" + certs->dir_ + "'";
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "make_certs.sh failed: " << command;
    return nullptr;
  }
  return certs;
}

TlsCerts::~TlsCerts() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::vector<std::string> TlsCerts::ServerArgs(const std::string& cert, const std::string& ca) const {
  return {"--tls-cert-file", Path(cert + ".crt"), "--tls-key-file", Path(cert + ".key"),
          "--tls-ca-cert-file", Path(ca + ".crt")};
}

std::vector<std::string> TlsCerts::CliArgs(const std::string& cert, const std::string& ca) const {
  std::vector<std::string> args = {"--tls", "--cacert", Path(ca + ".crt")};
  if (!cert.empty()) args.insert(args.end(), {"--cert", Path(cert + ".crt"), "--key", Path(cert + ".key")});
  return args;
}

}  // namespace lockerd::testing
