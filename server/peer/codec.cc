#include "server/peer/codec.h"

#include <cstdint>

#include "cluster/limits.h"
#include "protocol/numbers.h"
#include "cluster/ballot_text.h"
#include "server/peer/fields.h"

namespace lockerd::server {
namespace {

using cluster::Ballot;
using cluster::Vote;

// Writes a command of bulk strings, numbers in decimal; the array header
// goes first once the fields are counted (Finish).
class TextWriter {
 public:
  TextWriter& Text(std::string_view text) {
    body_writer_.WriteBulk(text);
    ++count_;
    return *this;
  }
  TextWriter& Number(uint64_t value) { return Text(std::to_string(value)); }
  TextWriter& Signed(int64_t value) { return Text(std::to_string(value)); }
  TextWriter& Mask(uint32_t value) { return Number(value); }
  TextWriter& Flag(bool value) { return Number(value ? 1 : 0); }
  TextWriter& VoteOf(Vote vote) { return Number(static_cast<uint64_t>(vote)); }
  TextWriter& BallotOf(const Ballot& ballot) {
    return Number(ballot.round).Text(cluster::BallotMemberText(ballot));
  }
  void Finish(std::string* out) const {
    protocol::RespWriter(out).WriteArrayHeader(count_);
    out->append(body_);
  }

 private:
  std::string body_;
  protocol::RespWriter body_writer_{&body_};
  size_t count_ = 0;
};

// Reads the fields of a decoded command in order; any bad field spoils it.
class FieldReader {
 public:
  explicit FieldReader(std::span<const std::string> args) : args_(args) {}
  bool ok() const { return ok_ && next_ == args_.size(); }
  void Text(std::string& out) {
    if (const std::string* field = Next()) out = *field;
  }
  void Number(uint64_t& out) {
    const auto value = Parse();
    if (!value || *value < 0) ok_ = false;
    out = static_cast<uint64_t>(value.value_or(0));
  }
  void Mask(uint32_t& out) {
    uint64_t value = 0;
    Number(value);
    if (value > UINT32_MAX) ok_ = false;
    out = static_cast<uint32_t>(value);
  }
  void Signed(int64_t& out) {
    const auto value = Parse();
    if (!value) ok_ = false;
    out = value.value_or(0);
  }
  void BallotOf(Ballot& out) {
    Number(out.round);
    const std::string* member = Next();
    if (member == nullptr || !cluster::ParseBallotMember(*member, &out) || out.member >= cluster::kMembersMax) {
      ok_ = false;
    }
  }
  void VoteOf(Vote& out) {
    uint64_t vote = 0;
    Number(vote);
    if (vote > static_cast<uint64_t>(Vote::kStaleEpoch)) ok_ = false;
    out = static_cast<Vote>(vote);
  }
  void Flag(bool& out) {
    uint64_t flag = 0;
    Number(flag);
    if (flag > 1) ok_ = false;
    out = flag == 1;
  }

 private:
  const std::string* Next() {
    if (next_ >= args_.size()) {
      ok_ = false;
      return nullptr;
    }
    return &args_[next_++];
  }
  std::optional<int64_t> Parse() {
    const std::string* field = Next();
    return field == nullptr ? std::nullopt : protocol::ParseInt64(*field);
  }
  std::span<const std::string> args_;
  size_t next_ = 2;  // After "PEER" and the kind.
  bool ok_ = true;
};

std::string_view KindOf(const cluster::Prepare& m) { return m.peek ? "PEEK" : "PREPARE"; }
std::string_view KindOf(const cluster::Promise&) { return "PROMISE"; }
std::string_view KindOf(const cluster::Accept&) { return "ACCEPT"; }
std::string_view KindOf(const cluster::Accepted&) { return "ACCEPTED"; }
std::string_view KindOf(const cluster::Learn&) { return "LEARN"; }
std::string_view KindOf(const cluster::SyncRequest&) { return "SYNC"; }
std::string_view KindOf(const cluster::SyncReply&) { return "SYNCED"; }
std::string_view KindOf(const cluster::Probe&) { return "PROBE"; }
std::string_view KindOf(const cluster::ProbeReply&) { return "PROBED"; }
std::string_view KindOf(const cluster::Configuration&) { return "CONFIGURATION"; }
std::string_view KindOf(const cluster::ConfigurationQuery&) { return "CONFIGURATION?"; }
std::string_view KindOf(const cluster::ConfigPrepare&) { return "CONFIG-PREPARE"; }
std::string_view KindOf(const cluster::ConfigPromise&) { return "CONFIG-PROMISE"; }
std::string_view KindOf(const cluster::ConfigAccept&) { return "CONFIG-ACCEPT"; }
std::string_view KindOf(const cluster::ConfigAccepted&) { return "CONFIG-ACCEPTED"; }
std::string_view KindOf(const cluster::CatchUp&) { return "CATCHUP"; }
std::string_view KindOf(const cluster::CaughtUp&) { return "CAUGHTUP"; }
std::string_view KindOf(const cluster::RaiseFloors&) { return "FLOORS"; }
std::string_view KindOf(const cluster::FloorsRaised&) { return "FLOORS-RAISED"; }

template <typename M>
std::optional<cluster::Message> Read(std::span<const std::string> args, cluster::MemberId from,
                                     cluster::MemberId to, M m = {}) {
  FieldReader read(args);
  cluster::Stamp stamp;
  uint64_t epoch = 0;
  StampFields(read, stamp, epoch);
  MessageFields(read, m);
  if (!read.ok()) return std::nullopt;
  cluster::Message message{from, to, std::move(m), stamp};
  message.epoch = epoch;
  return message;
}

}  // namespace

void EncodePeerMessage(const cluster::Message& message, std::string* out) {
  std::visit(
      [out, &message](const auto& m) {
        TextWriter writer;
        writer.Text("PEER").Text(KindOf(m));
        StampFields(writer, message.stamp, message.epoch);
        MessageFields(writer, m);
        writer.Finish(out);
      },
      message.body);
}

std::optional<cluster::Message> DecodePeerMessage(std::span<const std::string> args,
                                                  cluster::MemberId from, cluster::MemberId to) {
  if (args.size() < 2) return std::nullopt;
  const std::string& kind = args[1];
  if (kind == "PREPARE" || kind == "PEEK") {
    cluster::Prepare m;
    m.peek = kind == "PEEK";
    return Read(args, from, to, std::move(m));
  }
  if (kind == "PROMISE") return Read<cluster::Promise>(args, from, to);
  if (kind == "ACCEPT") return Read<cluster::Accept>(args, from, to);
  if (kind == "ACCEPTED") return Read<cluster::Accepted>(args, from, to);
  if (kind == "LEARN") return Read<cluster::Learn>(args, from, to);
  if (kind == "SYNC") return Read<cluster::SyncRequest>(args, from, to);
  if (kind == "SYNCED") return Read<cluster::SyncReply>(args, from, to);
  if (kind == "PROBE") return Read<cluster::Probe>(args, from, to);
  if (kind == "PROBED") return Read<cluster::ProbeReply>(args, from, to);
  if (kind == "CONFIGURATION") return Read<cluster::Configuration>(args, from, to);
  if (kind == "CONFIGURATION?") return Read<cluster::ConfigurationQuery>(args, from, to);
  if (kind == "CONFIG-PREPARE") return Read<cluster::ConfigPrepare>(args, from, to);
  if (kind == "CONFIG-PROMISE") return Read<cluster::ConfigPromise>(args, from, to);
  if (kind == "CONFIG-ACCEPT") return Read<cluster::ConfigAccept>(args, from, to);
  if (kind == "CONFIG-ACCEPTED") return Read<cluster::ConfigAccepted>(args, from, to);
  if (kind == "CATCHUP") return Read<cluster::CatchUp>(args, from, to);
  if (kind == "CAUGHTUP") return Read<cluster::CaughtUp>(args, from, to);
  if (kind == "FLOORS") return Read<cluster::RaiseFloors>(args, from, to);
  if (kind == "FLOORS-RAISED") return Read<cluster::FloorsRaised>(args, from, to);
  return std::nullopt;
}

void EncodePeerHello(cluster::MemberId self, size_t members_count, std::string_view fingerprint,
                     std::string_view nonce, std::string* out) {
  TextWriter writer;
  writer.Text("PEER").Text("HELLO").Number(self).Number(members_count).Text(fingerprint).Text(nonce);
  writer.Finish(out);
}

void EncodePeerAuth(std::string_view proof, std::string* out) {
  TextWriter writer;
  writer.Text("PEER").Text("AUTH").Text(proof);
  writer.Finish(out);
}

void EncodePeerPing(std::string* out) {
  TextWriter writer;
  writer.Text("PEER").Text("PING");
  writer.Finish(out);
}

}  // namespace lockerd::server
