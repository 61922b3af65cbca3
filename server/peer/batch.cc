#include "server/peer/batch.h"

#include <cstdint>
#include <limits>

#include "cluster/limits.h"
#include "protocol/resp_writer.h"
#include "server/peer/fields.h"

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
  kProbe = 8,
  kProbeReply = 9,
  kConfiguration = 10,
  kConfigurationQuery = 11,
  kConfigPrepare = 12,
  kConfigPromise = 13,
  kConfigAccept = 14,
  kConfigAccepted = 15,
  kCatchUp = 16,
  kCaughtUp = 17,
  kRaiseFloors = 18,
  kFloorsRaised = 19,
};

// Numbers are written as fixed-width little-endian integers, strings as a
// 32-bit length and their bytes.
class BinaryWriter {
 public:
  explicit BinaryWriter(std::string* out) : out_(out) {}
  void Byte(uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void Flag(bool value) { Byte(value ? 1 : 0); }
  void VoteOf(Vote vote) { Byte(static_cast<uint8_t>(vote)); }
  void Number(uint64_t value) { Fixed(value, 8); }
  void Mask(uint32_t value) { Fixed(value, 4); }
  void Signed(int64_t value) { Number(static_cast<uint64_t>(value)); }
  void Text(std::string_view text) {
    Fixed(text.size(), 4);
    out_->append(text);
  }
  void BallotOf(const Ballot& ballot) {
    Number(ballot.round);
    Fixed(ballot.member, 4);
    Fixed(ballot.step, 4);
  }

 private:
  void Fixed(uint64_t value, size_t bytes) {
    char buffer[8];
    for (size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<char>(value >> (8 * i));
    out_->append(buffer, bytes);
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
  void Flag(bool& out) {
    const uint8_t flag = Byte();
    if (flag > 1) ok_ = false;
    out = flag == 1;
  }
  void VoteOf(Vote& out) {
    const uint8_t vote = Byte();
    if (vote > static_cast<uint8_t>(Vote::kStaleEpoch)) ok_ = false;
    out = static_cast<Vote>(vote);
  }
  void Number(uint64_t& out) {
    out = Fixed(8);
    if (out > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ok_ = false;
  }
  void Mask(uint32_t& out) { out = static_cast<uint32_t>(Fixed(4)); }
  void Signed(int64_t& out) { out = static_cast<int64_t>(Fixed(8)); }
  void Text(std::string& out) {
    const uint64_t size = Fixed(4);
    if (!ok_ || size > text_max_ || size > in_.size()) {
      ok_ = false;
      return;
    }
    out.assign(in_.substr(0, size));
    in_.remove_prefix(size);
  }
  void BallotOf(Ballot& out) {
    Number(out.round);
    const uint64_t member = Fixed(4);
    if (member >= cluster::kMembersMax) ok_ = false;
    out.member = static_cast<cluster::MemberId>(member);
    out.step = static_cast<uint32_t>(Fixed(4));
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

Kind KindOf(const cluster::Prepare&) { return kPrepare; }
Kind KindOf(const cluster::Promise&) { return kPromise; }
Kind KindOf(const cluster::Accept&) { return kAccept; }
Kind KindOf(const cluster::Accepted&) { return kAccepted; }
Kind KindOf(const cluster::Learn&) { return kLearn; }
Kind KindOf(const cluster::SyncRequest&) { return kSync; }
Kind KindOf(const cluster::SyncReply&) { return kSynced; }
Kind KindOf(const cluster::Probe&) { return kProbe; }
Kind KindOf(const cluster::ProbeReply&) { return kProbeReply; }
Kind KindOf(const cluster::Configuration&) { return kConfiguration; }
Kind KindOf(const cluster::ConfigurationQuery&) { return kConfigurationQuery; }
Kind KindOf(const cluster::ConfigPrepare&) { return kConfigPrepare; }
Kind KindOf(const cluster::ConfigPromise&) { return kConfigPromise; }
Kind KindOf(const cluster::ConfigAccept&) { return kConfigAccept; }
Kind KindOf(const cluster::ConfigAccepted&) { return kConfigAccepted; }
Kind KindOf(const cluster::CatchUp&) { return kCatchUp; }
Kind KindOf(const cluster::CaughtUp&) { return kCaughtUp; }
Kind KindOf(const cluster::RaiseFloors&) { return kRaiseFloors; }
Kind KindOf(const cluster::FloorsRaised&) { return kFloorsRaised; }

// A Prepare carries its peek flag ahead of the shared fields.
void PeekFlag(BinaryWriter& out, const cluster::Prepare& m) { out.Flag(m.peek); }
void PeekFlag(BinaryReader& in, cluster::Prepare& m) { in.Flag(m.peek); }
template <typename F, typename M>
void PeekFlag(F&, M&) {}

template <typename M>
std::optional<cluster::Message> Read(BinaryReader& read, std::string_view* payload,
                                     cluster::MemberId from, cluster::MemberId to) {
  M m;
  cluster::Stamp stamp;
  uint64_t epoch = 0;
  StampFields(read, stamp, epoch);
  PeekFlag(read, m);
  MessageFields(read, m);
  if (!read.ok()) return std::nullopt;
  *payload = read.rest();
  cluster::Message message{from, to, std::move(m), stamp};
  message.epoch = epoch;
  return message;
}

}  // namespace

void AppendPeerMessage(const cluster::Message& message, std::string* payload) {
  std::visit(
      [payload, &message](const auto& m) {
        BinaryWriter out(payload);
        out.Byte(KindOf(m));
        StampFields(out, message.stamp, message.epoch);
        PeekFlag(out, m);
        MessageFields(out, m);
      },
      message.body);
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
  switch (read.Byte()) {
    case kPrepare: return Read<cluster::Prepare>(read, payload, from, to);
    case kPromise: return Read<cluster::Promise>(read, payload, from, to);
    case kAccept: return Read<cluster::Accept>(read, payload, from, to);
    case kAccepted: return Read<cluster::Accepted>(read, payload, from, to);
    case kLearn: return Read<cluster::Learn>(read, payload, from, to);
    case kSync: return Read<cluster::SyncRequest>(read, payload, from, to);
    case kSynced: return Read<cluster::SyncReply>(read, payload, from, to);
    case kProbe: return Read<cluster::Probe>(read, payload, from, to);
    case kProbeReply: return Read<cluster::ProbeReply>(read, payload, from, to);
    case kConfiguration: return Read<cluster::Configuration>(read, payload, from, to);
    case kConfigurationQuery: return Read<cluster::ConfigurationQuery>(read, payload, from, to);
    case kConfigPrepare: return Read<cluster::ConfigPrepare>(read, payload, from, to);
    case kConfigPromise: return Read<cluster::ConfigPromise>(read, payload, from, to);
    case kConfigAccept: return Read<cluster::ConfigAccept>(read, payload, from, to);
    case kConfigAccepted: return Read<cluster::ConfigAccepted>(read, payload, from, to);
    case kCatchUp: return Read<cluster::CatchUp>(read, payload, from, to);
    case kCaughtUp: return Read<cluster::CaughtUp>(read, payload, from, to);
    case kRaiseFloors: return Read<cluster::RaiseFloors>(read, payload, from, to);
    case kFloorsRaised: return Read<cluster::FloorsRaised>(read, payload, from, to);
    default: return std::nullopt;
  }
}

}  // namespace lockerd::server
