// Two TlsStreams, a connecting and an accepting one, wired back to back in
// memory: the handshake, data both ways, feeds of one byte at a time,
// certificates the other side must refuse, plain bytes where TLS is
// expected, and close_notify. No sockets; the certificates are made by
// tests/support/make_certs.sh.
#include "server/security/tls_stream.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "server/net/tls.h"
#include "tests/support/tls_certs.h"

namespace lockerd::server {
namespace {

using testing::TlsCerts;
using Result = TlsStream::Result;

Config TlsConfig(const TlsCerts& certs, const std::string& cert, const std::string& ca) {
  Config config;
  config.tls_port = 1;
  config.tls_cert_file = certs.Path(cert + ".crt");
  config.tls_key_file = certs.Path(cert + ".key");
  config.tls_ca_cert_file = certs.Path(ca + ".crt");
  return config;
}

// Moves `from`'s output into `to`, in pieces of at most `piece` bytes;
// returns the last result and appends the plaintext `to` produced.
Result Carry(TlsStream& from, TlsStream& to, size_t piece, std::string* plaintext) {
  std::string wire;
  from.TakeOutput(&wire);
  Result result = Result::kOk;
  for (size_t at = 0; at < wire.size() && result == Result::kOk; at += piece) {
    result = to.Feed(std::string_view(wire).substr(at, piece), plaintext);
  }
  return result;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  // One set of certificates for the suite: making them takes a while.
  static void SetUpTestSuite() { certs_ = TlsCerts::Make().release(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(certs_, nullptr);
    std::string error;
    server_context_ = TlsContext::Create(TlsConfig(*certs_, "server", "ca"), &error);
    ASSERT_NE(server_context_, nullptr) << error;
  }

  std::unique_ptr<TlsStream> Client(const std::string& cert = "server", const std::string& ca = "ca",
                                    const std::string& host = "127.0.0.1") {
    std::string error;
    auto context = TlsContext::Create(TlsConfig(*certs_, cert, ca), &error);
    EXPECT_NE(context, nullptr) << error;
    client_contexts_.push_back(std::move(context));
    return TlsStream::Create(client_contexts_.back()->connect_context(),
                             TlsStream::Role::kConnect, host);
  }
  std::unique_ptr<TlsStream> Server() {
    return TlsStream::Create(server_context_->accept_context(), TlsStream::Role::kAccept);
  }

  // Runs the handshake, `piece` bytes per feed; false if either side failed.
  static bool Handshake(TlsStream& client, TlsStream& server, size_t piece) {
    std::string ignored;
    if (client.Handshake() == Result::kFailed) return false;
    for (int round = 0; round < 10; ++round) {
      if (Carry(client, server, piece, &ignored) == Result::kFailed) return false;
      if (Carry(server, client, piece, &ignored) == Result::kFailed) return false;
      if (client.handshake_done() && server.handshake_done() && !client.has_output() &&
          !server.has_output()) {
        return true;
      }
    }
    return false;
  }

  static TlsCerts* certs_;
  std::unique_ptr<TlsContext> server_context_;
  std::vector<std::unique_ptr<TlsContext>> client_contexts_;
};

TlsCerts* TlsStreamTest::certs_ = nullptr;

TEST_F(TlsStreamTest, HandshakeThenDataBothWays) {
  auto client = Client();
  auto server = Server();
  ASSERT_TRUE(client && server);
  EXPECT_EQ(client->Write("early"), 0u) << "nothing is taken before the handshake (WANT_READ)";
  ASSERT_TRUE(Handshake(*client, *server, 1 << 20)) << client->error() << server->error();
  EXPECT_TRUE(server->peer_verified()) << "the client's certificate is from the CA";
  EXPECT_TRUE(client->peer_verified());
  const std::string request = "*1\r\n$4\r\nPING\r\n";
  ASSERT_EQ(client->Write(request), request.size());
  std::string received;
  ASSERT_EQ(Carry(*client, *server, 1 << 20, &received), Result::kOk);
  EXPECT_EQ(received, request);
  const std::string reply(100'000, 'r');  // Several records.
  ASSERT_EQ(server->Write(reply), reply.size());
  std::string got;
  ASSERT_EQ(Carry(*server, *client, 1 << 20, &got), Result::kOk);
  EXPECT_EQ(got, reply);
}

TEST_F(TlsStreamTest, OneByteFeedsGiveTheSameBytes) {
  auto client = Client();
  auto server = Server();
  ASSERT_TRUE(Handshake(*client, *server, 1)) << client->error() << server->error();
  std::string request;
  for (int i = 0; i < 200; ++i) request += "LOCK k" + std::to_string(i) + " me 5000\r\n";
  ASSERT_EQ(client->Write(request), request.size());
  std::string received;
  ASSERT_EQ(Carry(*client, *server, 1, &received), Result::kOk);
  EXPECT_EQ(received, request);
  ASSERT_EQ(server->Write("+OK\r\n"), 5u);
  std::string reply;
  ASSERT_EQ(Carry(*server, *client, 1, &reply), Result::kOk);
  EXPECT_EQ(reply, "+OK\r\n");
}

TEST_F(TlsStreamTest, ACertificateFromAnotherCaIsRefused) {
  // The client trusts the right CA but presents the other CA's certificate.
  auto client = Client("other", "ca");
  auto server = Server();
  EXPECT_FALSE(Handshake(*client, *server, 1 << 20));
  EXPECT_TRUE(server->failed());
  EXPECT_NE(server->error().find("certificate verify failed"), std::string::npos)
      << server->error();
  // And the other way: a client that trusts only the other CA refuses
  // the server.
  auto doubtful = Client("server", "other-ca");
  auto server2 = Server();
  EXPECT_FALSE(Handshake(*doubtful, *server2, 1 << 20));
  EXPECT_NE(doubtful->error().find("certificate verify failed"), std::string::npos)
      << doubtful->error();
}

TEST_F(TlsStreamTest, AServerCertificateForAnotherAddressIsRefused) {
  auto client = Client("server", "ca", "10.9.8.7");
  auto server = Server();
  EXPECT_FALSE(Handshake(*client, *server, 1 << 20));
  EXPECT_NE(client->error().find("certificate verify failed"), std::string::npos)
      << client->error();
}

TEST_F(TlsStreamTest, PlainRespWhereTlsIsExpectedFails) {
  auto server = Server();
  std::string plaintext;
  EXPECT_EQ(server->Feed("*1\r\n$4\r\nPING\r\n", &plaintext), Result::kFailed);
  EXPECT_TRUE(plaintext.empty());
  EXPECT_FALSE(server->error().empty());
  EXPECT_EQ(server->Write("+PONG\r\n"), 0u) << "a failed session takes nothing";
}

TEST_F(TlsStreamTest, CloseNotifyEndsTheStream) {
  auto client = Client();
  auto server = Server();
  ASSERT_TRUE(Handshake(*client, *server, 1 << 20));
  ASSERT_EQ(client->Write("last"), 4u);
  client->Shutdown();
  std::string received;
  EXPECT_EQ(Carry(*client, *server, 1 << 20, &received), Result::kClosed);
  EXPECT_EQ(received, "last") << "bytes before close_notify are delivered";
}

TEST_F(TlsStreamTest, ACaDirectoryWorksInsteadOfAFile) {
  const std::string dir = certs_->Path("ca-dir");
  const std::string command = "mkdir -p '" + dir + "' && cp '" + certs_->Path("ca.crt") + "' '" +
                              dir + "/' && openssl rehash '" + dir + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  Config config = TlsConfig(*certs_, "server", "ca");
  config.tls_ca_cert_file.clear();
  config.tls_ca_cert_dir = dir;
  std::string error;
  auto context = TlsContext::Create(config, &error);
  ASSERT_NE(context, nullptr) << error;
  auto server = TlsStream::Create(context->accept_context(), TlsStream::Role::kAccept);
  auto client = Client();
  ASSERT_TRUE(Handshake(*client, *server, 1 << 20)) << client->error() << server->error();
  EXPECT_TRUE(server->peer_verified());
  auto impostor = Client("other", "ca");
  auto server2 = TlsStream::Create(context->accept_context(), TlsStream::Role::kAccept);
  EXPECT_FALSE(Handshake(*impostor, *server2, 1 << 20));
}

TEST(TlsContextTest, ABadFileStopsTheStartWithItsName) {
  auto certs = TlsCerts::Make();
  ASSERT_NE(certs, nullptr);
  Config config = TlsConfig(*certs, "server", "ca");
  std::string error;
  config.tls_cert_file = certs->Path("missing.crt");
  EXPECT_EQ(TlsContext::Create(config, &error), nullptr);
  EXPECT_EQ(error, "tls-cert-file '" + certs->Path("missing.crt") + "': cannot read it");
  config = TlsConfig(*certs, "server", "ca");
  config.tls_key_file = certs->Path("client.key");
  EXPECT_EQ(TlsContext::Create(config, &error), nullptr);
  EXPECT_NE(error.find("tls-key-file '" + certs->Path("client.key") + "'"), std::string::npos)
      << error;
  config = TlsConfig(*certs, "server", "ca");
  config.tls_ca_cert_file = certs->Path("server.key");
  EXPECT_EQ(TlsContext::Create(config, &error), nullptr);
  EXPECT_NE(error.find("tls-ca-cert-file"), std::string::npos) << error;
}

}  // namespace
}  // namespace lockerd::server
