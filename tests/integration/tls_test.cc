// TLS on the real binary: redis-cli --tls (and openssl s_client where raw
// bytes matter) against tls-port, with certificates made at run time by
// tests/support/make_certs.sh. Client certificates required, optional and
// off; the wrong CA; plain RESP on the TLS port while the plain port keeps
// serving; big replies and pipelines (partial writes of ciphertext); AUTH
// and the HTTP check over TLS; a TLS-only cluster, and a member with a
// certificate from another CA that must not get in.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "tests/support/lockerd_cluster.h"
#include "tests/support/lockerd_process.h"
#include "tests/support/raw_client.h"
#include "tests/support/reply_text.h"
#include "tests/support/tls_certs.h"
#include "tests/support/tls_client.h"

namespace lockerd::testing {
namespace {

std::string Resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  return out;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = TlsCerts::Make();
    ASSERT_NE(certs_, nullptr);
  }

  // A member serving the plain port and tls-port at once.
  void StartServer(std::vector<std::string> extra = {}) {
    tls_port_ = FreePort();
    std::vector<std::string> args = {"--tls-port", std::to_string(tls_port_)};
    const std::vector<std::string> tls = certs_->ServerArgs();
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = LockerdProcess::Start({.args = args});
  }

  // redis-cli over TLS to tls-port, presenting `cert` ("" for none).
  ProcessResult Cli(std::vector<std::string> command, const std::string& cert = "client",
                    const std::string& input = {}) {
    std::vector<std::string> args = {"redis-cli", "-p", std::to_string(tls_port_)};
    const std::vector<std::string> tls = certs_->CliArgs(cert);
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), command.begin(), command.end());
    return RunProgram(args, input);
  }

  std::unique_ptr<TlsCerts> certs_;
  std::unique_ptr<LockerdProcess> server_;
  int tls_port_ = 0;
};

TEST_F(Tls, RedisCliLocksOverTls) {
  StartServer();
  EXPECT_EQ(Cli({"PING"}).output, "PONG\n");
  const ProcessResult lock = Cli({"LOCK", "invoices:42", "worker-7", "5000"});
  ASSERT_EQ(lock.exit_code, 0) << lock.output;
  const long long token = std::stoll(lock.output);
  EXPECT_GT(token, 0);
  const ProcessResult info = Cli({"LOCKINFO", "invoices:42"});
  EXPECT_EQ(info.output.rfind("owner\nworker-7\ntoken\n" + std::to_string(token) + "\n", 0), 0u)
      << info.output;
  // The same lease, seen through the plain port.
  RedisPtr plain = server_->Connect();
  EXPECT_EQ(Text(Command(plain.get(), {"GET", "invoices:42"})), "worker-7");
  EXPECT_EQ(Cli({"RELEASE", "invoices:42", "worker-7"}).output, "1\n");
  EXPECT_EQ(Cli({"LOCKINFO", "invoices:42"}).output, "\n");
}

TEST_F(Tls, PipeModeAndABigReplyOverTls) {
  StartServer();
  // 20,000 keys of 48 bytes: KEYS answers about 1.1 MB, several 256 KiB
  // encryption chunks and many partial socket writes.
  constexpr int kKeys = 20'000;
  std::string stream;
  for (int i = 0; i < kKeys; ++i) {
    std::string key = "tls-pipeline-key-" + std::to_string(i);
    key.resize(48, '.');
    stream += Resp({"LOCK", key, "owner", "60000"});
  }
  const ProcessResult pipe = Cli({"--pipe"}, "client", stream);
  ASSERT_EQ(pipe.exit_code, 0) << pipe.output;
  EXPECT_TRUE(Contains(pipe.output, "errors: 0, replies: " + std::to_string(kKeys))) << pipe.output;
  const ProcessResult keys = Cli({"KEYS", "*"});
  ASSERT_EQ(keys.exit_code, 0) << keys.output.substr(0, 200);
  EXPECT_EQ(std::count(keys.output.begin(), keys.output.end(), '\n'), kKeys);
  EXPECT_TRUE(Contains(keys.output, "tls-pipeline-key-19999...")) << "the last key came through";
  EXPECT_EQ(Cli({"DBSIZE"}).output, std::to_string(kKeys) + "\n");
}

// Commands for `keys` keys of 200 bytes each, and KEYS * `big_replies`
// times: about 1 MB per KEYS reply.
std::string LocksThenKeys(int keys, int big_replies) {
  std::string stream;
  for (int i = 0; i < keys; ++i) {
    std::string key = "big-" + std::to_string(i);
    key.resize(200, '.');
    stream += Resp({"LOCK", key, "owner", "60000"});
  }
  for (int i = 0; i < big_replies; ++i) stream += Resp({"KEYS", "*"});
  return stream;
}

TEST_F(Tls, RepliesToAClientThatStopsReadingArriveWhole) {
  StartServer();
  TlsClient client(tls_port_, *certs_);
  ASSERT_TRUE(client.ok()) << client.error();
  // 20 MB of replies while the client does not read: more than the
  // socket buffers hold, so the server's writes come up short and the
  // rest of the ciphertext waits for uv_write, chunk after chunk.
  constexpr int kKeys = 5000;
  constexpr int kBig = 20;
  ASSERT_TRUE(client.Send(LocksThenKeys(kKeys, kBig)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::vector<Reply> replies = client.ReadReplies(kKeys + kBig, std::chrono::seconds(30));
  ASSERT_EQ(replies.size(), static_cast<size_t>(kKeys + kBig)) << client.error();
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(replies[i].type, Reply::Type::kInteger) << i;
  for (int i = kKeys; i < kKeys + kBig; ++i) {
    ASSERT_EQ(replies[i].type, Reply::Type::kArray) << i;
    ASSERT_EQ(replies[i].elements.size(), static_cast<size_t>(kKeys)) << i;
  }
  EXPECT_FALSE(client.closed_by_server());
}

TEST_F(Tls, OutputLimitsCountRepliesNotYetEncrypted) {
  // Over 2 MB unread for a second: closed, although most of the bytes sit
  // in plaintext behind the TLS session rather than in the reply buffer.
  StartServer({"--client-output-buffer-limit", "normal", "64mb", "2mb", "1"});
  TlsClient client(tls_port_, *certs_);
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE(client.Send(LocksThenKeys(5000, 40)));
  // The client does not read; the server notices on its own.
  RedisPtr plain = server_->Connect();
  EXPECT_TRUE(WaitForInfoField(plain.get(), "client_output_limit_disconnections", "1"))
      << server_->Log();
  EXPECT_EQ(InfoField(plain.get(), "connected_clients"), "1") << "only the plain one is left";
}

TEST_F(Tls, ClientCertificatesAreRequiredByDefault) {
  StartServer();
  const ProcessResult none = Cli({"PING"}, "");
  EXPECT_FALSE(Contains(none.output, "PONG")) << "no certificate: " << none.output;
  const ProcessResult other = Cli({"PING"}, "other");
  EXPECT_FALSE(Contains(other.output, "PONG")) << "another CA's certificate: " << other.output;
  EXPECT_EQ(Cli({"PING"}).output, "PONG\n") << "the server is still fine";
  RedisPtr plain = server_->Connect();
  EXPECT_EQ(Text(Command(plain.get(), {"PING"})), "PONG");
}

TEST_F(Tls, NoClientCertificateNeededWhenAuthClientsIsNo) {
  StartServer({"--tls-auth-clients", "no"});
  EXPECT_EQ(Cli({"PING"}, "").output, "PONG\n");
  EXPECT_EQ(Cli({"PING"}).output, "PONG\n");
}

TEST_F(Tls, OptionalClientCertificatesMustStillBeFromTheCa) {
  StartServer({"--tls-auth-clients", "optional"});
  EXPECT_EQ(Cli({"PING"}, "").output, "PONG\n");
  EXPECT_EQ(Cli({"PING"}).output, "PONG\n");
  EXPECT_FALSE(Contains(Cli({"PING"}, "other").output, "PONG"));
}

TEST_F(Tls, PlainRespOnTheTlsPortIsClosedWhileThePlainPortServes) {
  StartServer();
  RedisPtr plain = server_->Connect();
  ASSERT_EQ(Text(Command(plain.get(), {"LOCK", "k", "me", "5000"})).empty(), false);
  RawClient raw(tls_port_);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send(Resp({"PING"})));
  EXPECT_TRUE(raw.WaitClosed()) << "plain RESP on the TLS port is not a handshake";
  RawClient junk(tls_port_);
  ASSERT_TRUE(junk.Send(std::string(5000, '\x16')));
  EXPECT_TRUE(junk.WaitClosed());
  EXPECT_EQ(Text(Command(plain.get(), {"GET", "k"})), "me") << "the plain connection lives on";
  EXPECT_EQ(InfoField(plain.get(), "tls_handshake_failures"), "2");
  EXPECT_EQ(Cli({"GET", "k"}).output, "me\n");
  EXPECT_TRUE(server_->Running());
}

TEST_F(Tls, AuthAndTheHttpCheckStillApplyOverTls) {
  StartServer({"--requirepass", "s3cret"});
  EXPECT_TRUE(Contains(Cli({"PING"}).output, "NOAUTH")) << "a certificate is not a password";
  EXPECT_EQ(Cli({"-a", "s3cret", "--no-auth-warning", "PING"}).output, "PONG\n");
  // An HTTP request inside TLS is still refused as a cross-protocol attack.
  const ProcessResult http = RunProgram(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(tls_port_), "-quiet",
       "-CAfile", certs_->Path("ca.crt"), "-cert", certs_->Path("client.crt"), "-key",
       certs_->Path("client.key")},
      "POST / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(Contains(http.output, "-ERR Protocol error: HTTP request")) << http.output;
}

TEST_F(Tls, ABadCertificateFileStopsTheStartNamingIt) {
  const std::string missing = certs_->Path("nosuch.crt");
  const ProcessResult start = RunProgram(
      {LOCKERD_BINARY, "--port", std::to_string(FreePort()), "--tls-port",
       std::to_string(FreePort()), "--dir", certs_->dir(), "--tls-cert-file", missing,
       "--tls-key-file", certs_->Path("server.key"), "--tls-ca-cert-file",
       certs_->Path("ca.crt")});
  EXPECT_EQ(start.exit_code, 1) << start.output;
  EXPECT_TRUE(Contains(start.output, "tls-cert-file '" + missing + "': cannot read it"))
      << start.output;
  const ProcessResult mismatch = RunProgram(
      {LOCKERD_BINARY, "--port", "0", "--tls-port", std::to_string(FreePort()), "--dir",
       certs_->dir(), "--tls-cert-file", certs_->Path("server.crt"), "--tls-key-file",
       certs_->Path("client.key"), "--tls-ca-cert-file", certs_->Path("ca.crt")});
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.output;
  EXPECT_TRUE(Contains(mismatch.output, "tls-key-file '" + certs_->Path("client.key") + "'"))
      << mismatch.output;
}

TEST_F(Tls, AnUnusableSecondBindAddressStopsTheStart) {
  // The first address's listeners (plain and TLS) are open when the second
  // fails; they must be closed, or the process never exits.
  const ProcessResult start = RunProgram(
      {LOCKERD_BINARY, "--bind", "127.0.0.1", "bogus", "--port", std::to_string(FreePort()),
       "--tls-port", std::to_string(FreePort()), "--dir", certs_->dir(), "--tls-cert-file",
       certs_->Path("server.crt"), "--tls-key-file", certs_->Path("server.key"),
       "--tls-ca-cert-file", certs_->Path("ca.crt")},
      {}, std::chrono::seconds(10));
  EXPECT_EQ(start.exit_code, 1) << start.output;
  EXPECT_TRUE(Contains(start.output, "'bogus' is not an IPv4 or IPv6 address")) << start.output;
}

// A TLS-only cluster: clients and peers on tls-port, `port 0`.
class TlsCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = TlsCerts::Make();
    ASSERT_NE(certs_, nullptr);
  }

  // Member i's settings: its certificate, the test CA, tls-cluster.
  std::vector<std::string> MemberArgs(const std::string& cert) const {
    std::vector<std::string> args = certs_->ServerArgs(cert, "ca");
    args.insert(args.end(), {"--tls-cluster", "yes"});
    return args;
  }

  // redis-cli to member i, trusting `ca` (an impostor's own CA for it).
  ProcessResult Cli(size_t i, std::vector<std::string> command, const std::string& ca = "ca") {
    std::vector<std::string> args = {"redis-cli", "-p", std::to_string(cluster_->port(i))};
    const std::vector<std::string> tls = certs_->CliArgs("client", ca);
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), command.begin(), command.end());
    return RunProgram(args);
  }

  std::string Reachable(size_t i, const std::string& ca = "ca") {
    return Field(i, "cluster_reachable_members", ca);
  }

  // A field of member i's INFO cluster ("?" when it has none).
  std::string Field(size_t i, const std::string& name, const std::string& ca = "ca") {
    const std::string info = Cli(i, {"INFO", "cluster"}, ca).output;
    const std::string field = name + ":";
    const size_t at = info.find(field);
    if (at == std::string::npos) return "?";
    return info.substr(at + field.size(), info.find_first_of("\r\n", at) - at - field.size());
  }

  std::unique_ptr<TlsCerts> certs_;
  std::unique_ptr<LockerdCluster> cluster_;
};

TEST_F(Tls, PeersCannotBypassTlsThroughThePlainPort) {
  // A member with tls-cluster also serving a plain port (for clients):
  // PEER HELLO with the right secret is still refused there.
  tls_port_ = FreePort();
  const std::string self = "127.0.0.1:" + std::to_string(tls_port_);
  std::vector<std::string> args = {"--tls-port", std::to_string(tls_port_), "--tls-cluster", "yes",
                                   "--cluster", self + ",127.0.0.1:" + std::to_string(FreePort()),
                                   "--cluster-secret", "test-secret", "--advertise", self};
  const std::vector<std::string> tls = certs_->ServerArgs();
  args.insert(args.end(), tls.begin(), tls.end());
  server_ = LockerdProcess::Start({.args = args});
  RedisPtr plain = server_->Connect();
  const std::string refused =
      Text(Command(plain.get(), {"PEER", "HELLO", "1", "2", "test-secret", "x"}));
  EXPECT_TRUE(Contains(refused, "tls-cluster is on")) << refused;
}

TEST_F(TlsCluster, ALockThroughOneMemberIsSeenByAnother) {
  cluster_ = LockerdCluster::StartTlsOnly(
      3, kFastClusterSettings, {MemberArgs("server"), MemberArgs("server"), MemberArgs("server")});
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(Eventually([&] { return Reachable(i) == "3"; }, std::chrono::seconds(10)))
        << "member " << i << " links; its log:\n" << cluster_->member(i).Log();
    EXPECT_TRUE(Eventually([&] { return Field(i, "member_state") == "ok"; }, std::chrono::seconds(10)))
        << "member " << i << " votes; its log:\n" << cluster_->member(i).Log();
  }
  const ProcessResult lock = Cli(0, {"LOCK", "k", "me", "1500"});
  ASSERT_GT(std::atoll(lock.output.c_str()), 0) << lock.output;
  EXPECT_TRUE(Eventually([&] { return Cli(1, {"GET", "k"}).output == "me\n"; }));
  EXPECT_EQ(Cli(2, {"LOCK", "k", "you", "1500"}).output, "\n") << "held through member 0";
}

TEST_F(TlsCluster, AMemberWithAnotherCasCertificateCannotJoin) {
  // Member 2 trusts the right CA but holds a certificate from another: the
  // others refuse it as a server and as a client.
  // A new cluster with a member missing cannot tell itself from one whose
  // members were removed and wiped: the operator says it is new, and the
  // two vote once their quarantine is over.
  std::vector<std::string> settings = kFastClusterSettings;
  settings.insert(settings.end(), {"--initial-cluster-state", "new"});
  cluster_ = LockerdCluster::StartTlsOnly(
      3, settings, {MemberArgs("server"), MemberArgs("server"), MemberArgs("other")});
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(Eventually([&] { return Reachable(i) == "2"; }, std::chrono::seconds(10)))
        << "member " << i << "; its log:\n" << cluster_->member(i).Log();
    EXPECT_TRUE(Eventually([&] { return Field(i, "member_state") == "ok"; }, std::chrono::seconds(20)))
        << "member " << i << " votes; its log:\n" << cluster_->member(i).Log();
  }
  const ProcessResult lock = Cli(0, {"LOCK", "k", "me", "1500"});
  ASSERT_GT(std::atoll(lock.output.c_str()), 0) << lock.output;
  EXPECT_TRUE(Eventually([&] { return Cli(1, {"GET", "k"}).output == "me\n"; }));
  // Give member 2 time to try: it never gets a link, either way.
  EXPECT_TRUE(Eventually(
      [&] {
        return Contains(cluster_->member(0).Log(), "(member 2): TLS handshake: certificate verify failed");
      },
      std::chrono::seconds(5)))
      << cluster_->member(0).Log();
  EXPECT_EQ(Reachable(0), "2");
  EXPECT_EQ(Reachable(1), "2");
  EXPECT_EQ(Reachable(2, "other-ca"), "1") << cluster_->member(2).Log();
  const ProcessResult alone = Cli(2, {"LOCK", "other-key", "me", "1500"}, "other-ca");
  EXPECT_FALSE(alone.output.empty() || std::atoll(alone.output.c_str()) > 0)
      << "member 2 alone has no majority: " << alone.output;
}

}  // namespace
}  // namespace lockerd::testing
