#include "server/peer_batch.h"

#include <cstdint>
#include <limits>

#include "cluster/limits.h"
#include "protocol/resp_writer.h"

namespace lockerd::server {
namespace {

using cluster::Ballot;
using cluster::Vote;

enum Kind : uint8_t {
  kPrepare = 1,
  kPromise = 2,
  kAccept = 3,
  kAccepted = 4,
  kLearn = 5,
  kSync = 6,
  kSynced = 7,
};

// Numbers are written as fixed-width little-endian integers, strings as a
// 32-bit length and their bytes.
class BinaryWriter {
 public:
  explicit BinaryWriter(std::string* out) : out_(out) {}
  BinaryWriter& Byte(uint8_t value) {
    out_->push_back(static_cast<char>(value));
    return *this;
  }
  BinaryWriter& Flag(bool value) { return Byte(value ? 1 : 0); }
  BinaryWriter& Number(uint64_t value) { return Fixed(value, 8); }
  BinaryWriter& Signed(int64_t value) { return Number(static_cast<uint64_t>(value)); }
  BinaryWriter& Text(std::string_view text) {
    Fixed(text.size(), 4);
    out_->append(text);
    return *this;
  }
  BinaryWriter& BallotOf(const Ballot& ballot) {
    return Number(ballot.round).Fixed(ballot.member, 4).Fixed(ballot.step, 4);
  }

 private:
  BinaryWriter& Fixed(uint64_t value, size_t bytes) {
    char buffer[8];
    for (size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<char>(value >> (8 * i));
    out_->append(buffer, bytes);
    return *this;
  }
  std::string* out_;
};

// Reads the fields in order; any bad or missing field spoils the message.
// Numbers keep the text decoder's ranges (unsigned ones fit in int64_t),
// so what a member does with them is the same whichever form they came in.
class BinaryReader {
 public:
  BinaryReader(std::string_view in, size_t text_bytes_max) : in_(in), text_max_(text_bytes_max) {}
  bool ok() const { return ok_; }
  std::string_view rest() const { return in_; }

  uint8_t Byte() { return static_cast<uint8_t>(Fixed(1)); }
  bool Flag() {
    const uint8_t flag = Byte();
    if (flag > 1) ok_ = false;
    return flag == 1;
  }
  uint64_t Number() {
    const uint64_t value = Fixed(8);
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ok_ = false;
    return value;
  }
  int64_t Signed() { return static_cast<int64_t>(Fixed(8)); }
  std::string Text() {
    const uint64_t size = Fixed(4);
    if (!ok_ || size > text_max_ || size > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string text(in_.substr(0, size));
    in_.remove_prefix(size);
    return text;
  }
  Ballot BallotOf() {
    Ballot ballot;
    ballot.round = Number();
    const uint64_t member = Fixed(4);
    if (member >= cluster::kMembersMax) ok_ = false;
    ballot.member = static_cast<cluster::MemberId>(member);
    ballot.step = static_cast<uint32_t>(Fixed(4));
    return ballot;
  }
  Vote VoteOf() {
    const uint8_t vote = Byte();
    if (vote > static_cast<uint8_t>(Vote::kQuarantined)) ok_ = false;
    return static_cast<Vote>(vote);
  }

 private:
  uint64_t Fixed(size_t bytes) {
    if (!ok_ || in_.size() < bytes) {
      ok_ = false;
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) {
      value |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    }
    in_.remove_prefix(bytes);
    return value;
  }
  std::string_view in_;
  size_t text_max_;
  bool ok_ = true;
};

}  // namespace

void AppendPeerMessage(const cluster::Message& message, std::string* payload) {
  struct Encoder {
    BinaryWriter out;
    void operator()(const cluster::Prepare& m) {
      out.Byte(kPrepare).Flag(m.peek).Number(m.round_id).Text(m.key).BallotOf(m.ballot);
    }
    void operator()(const cluster::Promise& m) {
      out.Byte(kPromise).Number(m.round_id).BallotOf(m.ballot)
          .Byte(static_cast<uint8_t>(m.vote)).BallotOf(m.highest).BallotOf(m.accepted)
          .Flag(m.lease.held).Text(m.lease.owner).Number(m.lease.token)
          .Signed(m.lease.remaining_ms).Number(m.token_counter).Signed(m.quarantine_left_ms);
    }
    void operator()(const cluster::Accept& m) {
      out.Byte(kAccept).Number(m.round_id).Text(m.key).BallotOf(m.ballot).Flag(m.held)
          .Text(m.owner).Number(m.token).Signed(m.ttl_ms);
    }
    void operator()(const cluster::Accepted& m) {
      out.Byte(kAccepted).Number(m.round_id).BallotOf(m.ballot)
          .Byte(static_cast<uint8_t>(m.vote)).BallotOf(m.highest).Signed(m.quarantine_left_ms);
    }
    void operator()(const cluster::Learn& m) {
      out.Byte(kLearn).Text(m.key).BallotOf(m.ballot).Flag(m.held).Text(m.owner)
          .Number(m.token).Signed(m.ttl_ms);
    }
    void operator()(const cluster::SyncRequest& m) { out.Byte(kSync).Number(m.nonce); }
    void operator()(const cluster::SyncReply& m) {
      out.Byte(kSynced).Number(m.nonce).Number(m.token_counter).BallotOf(m.highest);
    }
  };
  std::visit(Encoder{BinaryWriter(payload)}, message.body);
}

void FramePeerBatch(std::string_view payload, std::string* out) {
  protocol::RespWriter writer(out);
  writer.WriteArrayHeader(3);
  writer.WriteBulk("PEER");
  writer.WriteBulk("BATCH");
  writer.WriteBulk(payload);
}

std::optional<cluster::Message> TakePeerMessage(std::string_view* payload, cluster::MemberId from,
                                                cluster::MemberId to, size_t field_bytes_max) {
  BinaryReader read(*payload, field_bytes_max);
  cluster::Message message{from, to, {}};
  switch (read.Byte()) {
    case kPrepare: {
      cluster::Prepare m;
      m.peek = read.Flag();
      m.round_id = read.Number();
      m.key = read.Text();
      m.ballot = read.BallotOf();
      message.body = std::move(m);
      break;
    }
    case kPromise: {
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
      break;
    }
    case kAccept: {
      cluster::Accept m;
      m.round_id = read.Number();
      m.key = read.Text();
      m.ballot = read.BallotOf();
      m.held = read.Flag();
      m.owner = read.Text();
      m.token = read.Number();
      m.ttl_ms = read.Signed();
      message.body = std::move(m);
      break;
    }
    case kAccepted: {
      cluster::Accepted m;
      m.round_id = read.Number();
      m.ballot = read.BallotOf();
      m.vote = read.VoteOf();
      m.highest = read.BallotOf();
      m.quarantine_left_ms = read.Signed();
      message.body = m;
      break;
    }
    case kLearn: {
      cluster::Learn m;
      m.key = read.Text();
      m.ballot = read.BallotOf();
      m.held = read.Flag();
      m.owner = read.Text();
      m.token = read.Number();
      m.ttl_ms = read.Signed();
      message.body = std::move(m);
      break;
    }
    case kSync:
      message.body = cluster::SyncRequest{read.Number()};
      break;
    case kSynced: {
      cluster::SyncReply m;
      m.nonce = read.Number();
      m.token_counter = read.Number();
      m.highest = read.BallotOf();
      message.body = m;
      break;
    }
    default:
      return std::nullopt;
  }
  if (!read.ok()) return std::nullopt;
  *payload = read.rest();
  return message;
}

}  // namespace lockerd::server
