#include "server/peer_codec.h"

#include "cluster/limits.h"
#include "protocol/numbers.h"
#include "server/ballot_text.h"

namespace lockerd::server {
namespace {

using cluster::Ballot;
using cluster::Vote;

// Writes a command of bulk strings; numbers in decimal.
class CommandWriter {
 public:
  CommandWriter(std::string* out, size_t count) : writer_(out) { writer_.WriteArrayHeader(count); }
  CommandWriter& Text(std::string_view text) {
    writer_.WriteBulk(text);
    return *this;
  }
  CommandWriter& Number(uint64_t value) { return Text(std::to_string(value)); }
  CommandWriter& Signed(int64_t value) { return Text(std::to_string(value)); }
  CommandWriter& BallotOf(const Ballot& ballot) {
    return Number(ballot.round).Text(BallotMemberText(ballot));
  }

 private:
  protocol::RespWriter writer_;
};

// Reads the fields of a decoded command in order; any bad field spoils it.
class FieldReader {
 public:
  explicit FieldReader(std::span<const std::string> args) : args_(args) {}
  bool ok() const { return ok_ && next_ == args_.size(); }
  std::string Text() {
    if (next_ >= args_.size()) return Fail();
    return args_[next_++];
  }
  uint64_t Number() {
    const auto value = protocol::ParseInt64(Text());
    if (!value || *value < 0) {
      ok_ = false;
      return 0;
    }
    return static_cast<uint64_t>(*value);
  }
  int64_t Signed() {
    const auto value = protocol::ParseInt64(Text());
    if (!value) ok_ = false;
    return value.value_or(0);
  }
  Ballot BallotOf() {
    Ballot ballot;
    ballot.round = Number();
    if (!ParseBallotMember(Text(), &ballot) || ballot.member >= cluster::kMembersMax) ok_ = false;
    return ballot;
  }
  Vote VoteOf() {
    const uint64_t vote = Number();
    if (vote > static_cast<uint64_t>(Vote::kQuarantined)) ok_ = false;
    return static_cast<Vote>(vote);
  }
  bool Flag() {
    const uint64_t flag = Number();
    if (flag > 1) ok_ = false;
    return flag == 1;
  }

 private:
  std::string Fail() {
    ok_ = false;
    return {};
  }
  std::span<const std::string> args_;
  size_t next_ = 2;  // After "PEER" and the kind.
  bool ok_ = true;
};

}  // namespace

void EncodePeerMessage(const cluster::Message& message, std::string* out) {
  struct Encoder {
    std::string* out;
    void operator()(const cluster::Prepare& m) const {
      CommandWriter(out, 6).Text("PEER").Text(m.peek ? "PEEK" : "PREPARE").Number(m.round_id).Text(m.key)
          .BallotOf(m.ballot);
    }
    void operator()(const cluster::Promise& m) const {
      CommandWriter(out, 16)
          .Text("PEER").Text("PROMISE").Number(m.round_id).BallotOf(m.ballot)
          .Number(static_cast<uint64_t>(m.vote))
          .BallotOf(m.highest).BallotOf(m.accepted).Number(m.lease.held ? 1 : 0)
          .Text(m.lease.owner).Number(m.lease.token).Signed(m.lease.remaining_ms)
          .Number(m.token_counter).Signed(m.quarantine_left_ms);
    }
    void operator()(const cluster::Accept& m) const {
      CommandWriter(out, 10)
          .Text("PEER").Text("ACCEPT").Number(m.round_id).Text(m.key).BallotOf(m.ballot)
          .Number(m.held ? 1 : 0).Text(m.owner).Number(m.token).Signed(m.ttl_ms);
    }
    void operator()(const cluster::Accepted& m) const {
      CommandWriter(out, 9)
          .Text("PEER").Text("ACCEPTED").Number(m.round_id).BallotOf(m.ballot)
          .Number(static_cast<uint64_t>(m.vote))
          .BallotOf(m.highest).Signed(m.quarantine_left_ms);
    }
    void operator()(const cluster::Learn& m) const {
      CommandWriter(out, 9)
          .Text("PEER").Text("LEARN").Text(m.key).BallotOf(m.ballot).Number(m.held ? 1 : 0)
          .Text(m.owner).Number(m.token).Signed(m.ttl_ms);
    }
    void operator()(const cluster::SyncRequest& m) const {
      CommandWriter(out, 3).Text("PEER").Text("SYNC").Number(m.nonce);
    }
    void operator()(const cluster::SyncReply& m) const {
      CommandWriter(out, 6).Text("PEER").Text("SYNCED").Number(m.nonce).Number(m.token_counter)
          .BallotOf(m.highest);
    }
  };
  std::visit(Encoder{out}, message.body);
}

std::optional<cluster::Message> DecodePeerMessage(std::span<const std::string> args,
                                                  cluster::MemberId from, cluster::MemberId to) {
  if (args.size() < 2) return std::nullopt;
  const std::string& kind = args[1];
  FieldReader read(args);
  cluster::Message message{from, to, {}};
  if (kind == "PREPARE" || kind == "PEEK") {
    cluster::Prepare m;
    m.peek = kind == "PEEK";
    m.round_id = read.Number();
    m.key = read.Text();
    m.ballot = read.BallotOf();
    message.body = std::move(m);
  } else if (kind == "PROMISE") {
    cluster::Promise m;
    m.round_id = read.Number();
    m.ballot = read.BallotOf();
    m.vote = read.VoteOf();
    m.highest = read.BallotOf();
    m.accepted = read.BallotOf();
    m.lease.held = read.Flag();
    m.lease.owner = read.Text();
    m.lease.token = read.Number();
    m.lease.remaining_ms = read.Signed();
    m.token_counter = read.Number();
    m.quarantine_left_ms = read.Signed();
    message.body = std::move(m);
  } else if (kind == "ACCEPT") {
    cluster::Accept m;
    m.round_id = read.Number();
    m.key = read.Text();
    m.ballot = read.BallotOf();
    m.held = read.Flag();
    m.owner = read.Text();
    m.token = read.Number();
    m.ttl_ms = read.Signed();
    message.body = std::move(m);
  } else if (kind == "ACCEPTED") {
    cluster::Accepted m;
    m.round_id = read.Number();
    m.ballot = read.BallotOf();
    m.vote = read.VoteOf();
    m.highest = read.BallotOf();
    m.quarantine_left_ms = read.Signed();
    message.body = m;
  } else if (kind == "LEARN") {
    cluster::Learn m;
    m.key = read.Text();
    m.ballot = read.BallotOf();
    m.held = read.Flag();
    m.owner = read.Text();
    m.token = read.Number();
    m.ttl_ms = read.Signed();
    message.body = std::move(m);
  } else if (kind == "SYNC") {
    message.body = cluster::SyncRequest{read.Number()};
  } else if (kind == "SYNCED") {
    cluster::SyncReply m;
    m.nonce = read.Number();
    m.token_counter = read.Number();
    m.highest = read.BallotOf();
    message.body = m;
  } else {
    return std::nullopt;
  }
  if (!read.ok()) return std::nullopt;
  return message;
}

void EncodePeerHello(cluster::MemberId self, size_t members_count, std::string_view fingerprint,
                     std::string_view nonce, std::string* out) {
  CommandWriter(out, 6).Text("PEER").Text("HELLO").Number(self).Number(members_count)
      .Text(fingerprint).Text(nonce);
}

void EncodePeerAuth(std::string_view proof, std::string* out) {
  CommandWriter(out, 3).Text("PEER").Text("AUTH").Text(proof);
}

void EncodePeerPing(std::string* out) { CommandWriter(out, 2).Text("PEER").Text("PING"); }

}  // namespace lockerd::server
