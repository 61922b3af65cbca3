// The peer handshake's listening side (PEER HELLO, PEER AUTH) against an
// engine of member 0 of three, and the HMAC proofs it relies on: the secret
// never crosses the wire, a recorded proof cannot be replayed, and a proof
// of one role cannot stand for the other.
#include <gtest/gtest.h>

#include "server/config/config.h"
#include "server/peer/auth.h"
#include "tests/server/engine/engine_fixture.h"
#include "server/peer/fingerprint.h"

namespace lockerd::server {
namespace {

Config MemberZero() {
  Config config = TrioMemberConfig(0, "the-secret");
  config.max_key_bytes = 100;
  return config;
}

class PeerHandshakeTest : public EngineTest {
 protected:
  PeerHandshakeTest() : EngineTest(MemberZero()), fingerprint_(ClusterFingerprint(config_)) {}

  // PEER HELLO as member `from` with `nonce`; returns the listening nonce.
  std::string Hello(Client& client, const std::string& nonce, cluster::MemberId from = 1) {
    const auto reply =
        One(client, {"PEER", "HELLO", std::to_string(from), "3", fingerprint_, nonce});
    EXPECT_EQ(reply.type, testing::Reply::Type::kSimple) << reply.text;
    EXPECT_EQ(reply.text.rfind("CHALLENGE ", 0), 0u) << reply.text;
    const std::string listening = reply.text.substr(std::string("CHALLENGE ").size());
    EXPECT_TRUE(LooksLikePeerNonce(listening)) << listening;
    return listening;
  }

  std::string Proof(std::string_view secret, PeerRole role, const std::string& connecting_nonce,
                    const std::string& listening_nonce, cluster::MemberId from = 1) {
    return PeerProof(secret, role, connecting_nonce, listening_nonce, from, 0, fingerprint_);
  }

  uint64_t Refused() const { return engine_.stats().peer_handshakes_refused; }

  std::string fingerprint_;
};

TEST_F(PeerHandshakeTest, TheRightProofMakesAPeerAndTheListenerProvesItselfBack) {
  Client& link = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(link, nonce);
  EXPECT_LT(link.peer.member, 0) << "HELLO alone proves nothing";
  const auto ok =
      One(link, {"PEER", "AUTH", Proof("the-secret", PeerRole::kConnecting, nonce, listening)});
  ASSERT_EQ(ok.type, testing::Reply::Type::kSimple) << ok.text;
  EXPECT_EQ(ok.text, "OK 0 " + fingerprint_ + " " +
                         Proof("the-secret", PeerRole::kListening, nonce, listening));
  EXPECT_EQ(link.peer.member, 1);
  EXPECT_EQ(One(link, {"PEER", "PING"}).text, "PONG");
  EXPECT_EQ(Refused(), 0u);
}

TEST_F(PeerHandshakeTest, AWrongSecretIsRefusedAndTheLinkCloses) {
  Client& link = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(link, nonce);
  const auto refused =
      One(link, {"PEER", "AUTH", Proof("a-guess", PeerRole::kConnecting, nonce, listening)});
  EXPECT_EQ(refused.text, "ERR peer handshake refused: wrong cluster secret");
  EXPECT_TRUE(link.close_after_reply);
  EXPECT_LT(link.peer.member, 0);
  EXPECT_EQ(Refused(), 1u);
}

TEST_F(PeerHandshakeTest, ARecordedProofDoesNotWorkOnANewChallenge) {
  Client& first = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(first, nonce);
  const std::string proof = Proof("the-secret", PeerRole::kConnecting, nonce, listening);
  ASSERT_EQ(One(first, {"PEER", "AUTH", proof}).type, testing::Reply::Type::kSimple);

  // An eavesdropper replays the same HELLO and AUTH: the listener's fresh
  // nonce makes the old proof worthless.
  Client& replay = NewClient();
  const std::string fresh = Hello(replay, nonce);
  EXPECT_NE(fresh, listening);
  EXPECT_EQ(One(replay, {"PEER", "AUTH", proof}).text,
            "ERR peer handshake refused: wrong cluster secret");
  EXPECT_LT(replay.peer.member, 0);
}

TEST_F(PeerHandshakeTest, TheListenersProofCannotBeReflectedAsTheConnectingOne) {
  Client& link = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(link, nonce);
  EXPECT_NE(One(link, {"PEER", "AUTH", Proof("the-secret", PeerRole::kListening, nonce, listening)})
                .text.rfind("OK", 0),
            0u);
}

TEST_F(PeerHandshakeTest, AProofIsBoundToTheMemberItClaims) {
  Client& link = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(link, nonce, /*from=*/2);
  const auto refused = One(link, {"PEER", "AUTH", Proof("the-secret", PeerRole::kConnecting, nonce,
                                                        listening, /*from=*/1)});
  EXPECT_TRUE(refused.IsError()) << refused.text;
}

TEST_F(PeerHandshakeTest, OutOfOrderAndMalformedHandshakesAreRefused) {
  {
    Client& link = NewClient();
    EXPECT_EQ(One(link, {"PEER", "AUTH", std::string(64, 'a')}).text,
              "ERR peer handshake refused: PEER AUTH without PEER HELLO");
  }
  {
    Client& link = NewClient();
    EXPECT_EQ(One(link, {"PEER", "HELLO", "1", "3", fingerprint_, "not-a-nonce"}).text,
              "ERR peer handshake refused: bad nonce");
  }
  {
    Client& link = NewClient();
    // The handshake of the version that sent the secret itself.
    EXPECT_EQ(One(link, {"PEER", "HELLO", "1", "3", "the-secret", fingerprint_}).text,
              "ERR peer handshake refused: the member lists, max-lease-ms, lease-drift or "
              "round-timeout-ms differ between members");
  }
  {
    Client& link = NewClient();
    Hello(link, NewPeerNonce());
    EXPECT_EQ(One(link, {"PEER", "HELLO", "1", "3", fingerprint_, NewPeerNonce()}).text,
              "ERR peer handshake refused: a second PEER HELLO on one link");
  }
  {
    Client& link = NewClient();
    EXPECT_EQ(One(link, {"PEER", "HELLO", "0", "3", fingerprint_, NewPeerNonce()}).text,
              "ERR peer handshake refused: bad member id");
  }
  EXPECT_EQ(Refused(), 5u);
}

TEST_F(PeerHandshakeTest, APeersFieldsAreBoundedByMaxKeyBytes) {
  Client& link = NewClient();
  const std::string nonce = NewPeerNonce();
  const std::string listening = Hello(link, nonce);
  One(link, {"PEER", "AUTH", Proof("the-secret", PeerRole::kConnecting, nonce, listening)});
  const auto malformed = [this] { return engine_.stats().peer_messages_malformed; };
  // PEER PREPARE <stamp: run, sent, echo run, echo> <epoch> <round> <key> <ballot>.
  EXPECT_TRUE(Send(link, {"PEER", "PREPARE", "9", "0", "0", "0", "1", "1", std::string(100, 'k'), "2", "1"}).empty());
  EXPECT_EQ(malformed(), 0u) << "a key of max-key-bytes is a message";
  EXPECT_TRUE(Send(link, {"PEER", "PREPARE", "9", "0", "0", "0", "1", "1", std::string(101, 'k'), "2", "1"}).empty());
  EXPECT_EQ(malformed(), 1u) << "one byte more is dropped and counted";
}

TEST(PeerAuth, ProofsDependOnEveryInput) {
  const std::string a = NewPeerNonce();
  const std::string b = NewPeerNonce();
  EXPECT_NE(a, b);
  EXPECT_TRUE(LooksLikePeerNonce(a));
  const std::string base = PeerProof("s", PeerRole::kConnecting, a, b, 1, 0, "f");
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base, PeerProof("s", PeerRole::kConnecting, a, b, 1, 0, "f"));
  EXPECT_NE(base, PeerProof("t", PeerRole::kConnecting, a, b, 1, 0, "f"));
  EXPECT_NE(base, PeerProof("s", PeerRole::kListening, a, b, 1, 0, "f"));
  EXPECT_NE(base, PeerProof("s", PeerRole::kConnecting, b, a, 1, 0, "f"));
  EXPECT_NE(base, PeerProof("s", PeerRole::kConnecting, a, b, 2, 0, "f"));
  EXPECT_NE(base, PeerProof("s", PeerRole::kConnecting, a, b, 1, 2, "f"));
  EXPECT_NE(base, PeerProof("s", PeerRole::kConnecting, a, b, 1, 0, "g"));
  EXPECT_EQ(base.find('s'), std::string::npos) << "hex digits only";
  EXPECT_TRUE(ProofEquals(base, base));
  EXPECT_FALSE(ProofEquals(base, base.substr(1)));
}

}  // namespace
}  // namespace lockerd::server
