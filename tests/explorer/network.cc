// The explorer's messages in flight (network.h), their digests and their
// descriptions for traces. It orders and drops messages; delivering them
// is the cluster's (explored_cluster.cc).
#include "tests/explorer/network.h"

#include <algorithm>

namespace lockerd::explorer {
namespace {

using cluster::StateDigest;

std::string BallotText(const cluster::Ballot& ballot) {
  return std::to_string(ballot.round) + "." + std::to_string(ballot.member) +
         (ballot.step != 0 ? "." + std::to_string(ballot.step) : "");
}

std::string LeaseText(bool held, const std::string& owner, uint64_t token) {
  return held ? owner + " t" + std::to_string(token) : "free";
}

const char* VoteText(cluster::Vote vote) {
  switch (vote) {
    case cluster::Vote::kYes:
      return "yes";
    case cluster::Vote::kNo:
      return "no";
    case cluster::Vote::kQuarantined:
      return "quarantined";
    case cluster::Vote::kStaleEpoch:
      return "stale epoch";
  }
  return "?";
}

// One Add per field, in declaration order.
void AddBody(StateDigest* d, const cluster::Prepare& p) {
  d->Add(p.round_id);
  d->Add(p.key);
  d->Add(p.ballot);
  d->Add(p.peek);
}
void AddBody(StateDigest* d, const cluster::Promise& p) {
  d->Add(p.round_id);
  d->Add(p.ballot);
  d->Add(p.vote);
  d->Add(p.highest);
  d->Add(p.accepted);
  d->Add(p.lease.held);
  d->Add(p.lease.owner);
  d->Add(p.lease.token);
  d->Add(p.lease.remaining_ms);
  d->Add(p.token_counter);
  d->Add(p.quarantine_left_ms);
}
void AddBody(StateDigest* d, const cluster::Accept& a) {
  d->Add(a.round_id);
  d->Add(a.key);
  d->Add(a.ballot);
  d->Add(a.held);
  d->Add(a.owner);
  d->Add(a.token);
  d->Add(a.ttl_ms);
}
void AddBody(StateDigest* d, const cluster::Accepted& a) {
  d->Add(a.round_id);
  d->Add(a.ballot);
  d->Add(a.vote);
  d->Add(a.highest);
  d->Add(a.quarantine_left_ms);
}
void AddBody(StateDigest* d, const cluster::Learn& l) {
  d->Add(l.key);
  d->Add(l.ballot);
  d->Add(l.held);
  d->Add(l.owner);
  d->Add(l.token);
  d->Add(l.ttl_ms);
}
void AddValue(StateDigest* d, const cluster::ConfigValue& v) {
  d->Add(v.membership.epoch);
  d->Add(v.membership.voters);
  d->Add(v.membership.learners);
  d->Add(v.previous_voters);
  d->Add(v.settled);
}
void AddBody(StateDigest* d, const cluster::SyncRequest& r) { d->Add(r.nonce); }
void AddBody(StateDigest* d, const cluster::SyncReply& r) {
  d->Add(r.nonce);
  d->Add(r.recovering);
  d->Add(r.token_counter);
  d->Add(r.highest);
  d->Add(r.pristine);
  d->Add(r.undecided);
  d->Add(r.vouched);
  d->Add(r.run);
  d->Add(r.config_promised);
  d->Add(r.config_accepted);
  AddValue(d, r.config_value);
}
void AddBody(StateDigest*, const cluster::Probe&) {}
void AddBody(StateDigest*, const cluster::ProbeReply&) {}
void AddBody(StateDigest* d, const cluster::Configuration& c) {
  d->Add(c.membership.epoch);
  d->Add(c.membership.voters);
  d->Add(c.membership.learners);
}
void AddBody(StateDigest*, const cluster::ConfigurationQuery&) {}
void AddBody(StateDigest* d, const cluster::ConfigPrepare& p) {
  d->Add(p.round_id);
  d->Add(p.ballot);
}
void AddBody(StateDigest* d, const cluster::ConfigPromise& p) {
  d->Add(p.round_id);
  d->Add(p.ballot);
  d->Add(p.vote);
  d->Add(p.highest);
  d->Add(p.accepted);
  AddValue(d, p.value);
}
void AddBody(StateDigest* d, const cluster::ConfigAccept& a) {
  d->Add(a.round_id);
  d->Add(a.ballot);
  AddValue(d, a.value);
}
void AddBody(StateDigest* d, const cluster::ConfigAccepted& a) {
  d->Add(a.round_id);
  d->Add(a.ballot);
  d->Add(a.vote);
  d->Add(a.highest);
}
void AddBody(StateDigest* d, const cluster::CatchUp& c) { d->Add(c.nonce); }
void AddBody(StateDigest* d, const cluster::CaughtUp& c) {
  d->Add(c.nonce);
  d->Add(c.recovering);
  d->Add(c.token_counter);
  d->Add(c.highest);
}
void AddBody(StateDigest* d, const cluster::RaiseFloors& r) {
  d->Add(r.nonce);
  d->Add(r.token_counter);
  d->Add(r.highest);
}
void AddBody(StateDigest* d, const cluster::FloorsRaised& f) { d->Add(f.nonce); }

std::string MembershipText(const cluster::Membership& m) {
  std::string text = "e" + std::to_string(m.epoch) + " voters {";
  std::string names;
  cluster::ForEachMember(m.voters, [&names](cluster::MemberId member) {
    names += (names.empty() ? "m" : ",m") + std::to_string(member);
  });
  text += names + "}";
  if (m.learners != 0) {
    names.clear();
    cluster::ForEachMember(m.learners, [&names](cluster::MemberId member) {
      names += (names.empty() ? "m" : ",m") + std::to_string(member);
    });
    text += " learners {" + names + "}";
  }
  return text;
}

std::string ValueText(const cluster::ConfigValue& v) {
  return MembershipText(v.membership) + (v.settled ? " settled" : " unsettled");
}

}  // namespace

uint64_t DigestMessage(const cluster::Message& message) {
  StateDigest digest;
  digest.Add(message.from);
  digest.Add(message.to);
  digest.Add(message.body.index());
  std::visit([&digest](const auto& body) { AddBody(&digest, body); }, message.body);
  digest.Add(message.stamp.incarnation);
  digest.Add(message.stamp.sent_ms);
  digest.Add(message.stamp.echo_incarnation);
  digest.Add(message.stamp.echo_ms);
  digest.Add(message.epoch);
  return digest.value();
}

std::string DescribeMessage(const cluster::Message& m) {
  std::string text = "m" + std::to_string(m.from) + "->m" + std::to_string(m.to) + " ";
  // A round's epoch, once the configuration has changed (the first's, 1,
  // is left out so that traces without changes read as before).
  const std::string epoch = m.epoch > 1 ? " (e" + std::to_string(m.epoch) + ")" : "";
  if (const auto* p = std::get_if<cluster::Prepare>(&m.body)) {
    return text + (p->peek ? "peek " : "prepare ") + p->key + " b" + BallotText(p->ballot) + epoch;
  }
  if (const auto* p = std::get_if<cluster::Promise>(&m.body)) {
    return text + "promise b" + BallotText(p->ballot) + " " + VoteText(p->vote) + " accepted b" +
           BallotText(p->accepted) + " " +
           LeaseText(p->lease.held, p->lease.owner, p->lease.token) +
           (p->lease.held ? " " + std::to_string(p->lease.remaining_ms) + " ms left" : "");
  }
  if (const auto* a = std::get_if<cluster::Accept>(&m.body)) {
    return text + "accept " + a->key + " b" + BallotText(a->ballot) + " " +
           LeaseText(a->held, a->owner, a->token) +
           (a->held ? " ttl " + std::to_string(a->ttl_ms) : "") + epoch;
  }
  if (const auto* a = std::get_if<cluster::Accepted>(&m.body)) {
    return text + "accepted b" + BallotText(a->ballot) + " " + VoteText(a->vote);
  }
  if (const auto* l = std::get_if<cluster::Learn>(&m.body)) {
    return text + "learn " + l->key + " b" + BallotText(l->ballot) + " " +
           LeaseText(l->held, l->owner, l->token) +
           (l->held ? " ttl " + std::to_string(l->ttl_ms) : "") + epoch;
  }
  if (std::holds_alternative<cluster::SyncRequest>(m.body)) return text + "sync request";
  if (const auto* r = std::get_if<cluster::SyncReply>(&m.body)) {
    if (r->recovering) return text + "sync reply: recovering";
    return text + "sync reply: counter " + std::to_string(r->token_counter) + ", highest b" +
           BallotText(r->highest) + (r->pristine ? ", pristine" : "") +
           (r->undecided ? ", undecided" : "") + (r->vouched ? ", vouched" : "") +
           (r->config_accepted != cluster::Ballot{}
                ? ", configuration register b" + BallotText(r->config_accepted) + " " +
                      ValueText(r->config_value)
                : "");
  }
  if (std::holds_alternative<cluster::Probe>(m.body)) return text + "probe";
  if (const auto* c = std::get_if<cluster::Configuration>(&m.body)) {
    return text + "configuration " + MembershipText(c->membership);
  }
  if (std::holds_alternative<cluster::ConfigurationQuery>(m.body)) return text + "configuration?";
  if (const auto* p = std::get_if<cluster::ConfigPrepare>(&m.body)) {
    return text + "config prepare b" + BallotText(p->ballot) + " (e" + std::to_string(m.epoch) +
           ")";
  }
  if (const auto* p = std::get_if<cluster::ConfigPromise>(&m.body)) {
    return text + "config promise b" + BallotText(p->ballot) + " " + VoteText(p->vote) +
           " accepted b" + BallotText(p->accepted) + " " + ValueText(p->value);
  }
  if (const auto* a = std::get_if<cluster::ConfigAccept>(&m.body)) {
    return text + "config accept b" + BallotText(a->ballot) + " " + ValueText(a->value) + " (e" +
           std::to_string(m.epoch) + ")";
  }
  if (const auto* a = std::get_if<cluster::ConfigAccepted>(&m.body)) {
    return text + "config accepted b" + BallotText(a->ballot) + " " + VoteText(a->vote);
  }
  if (const auto* c = std::get_if<cluster::CatchUp>(&m.body)) {
    return text + "catch up #" + std::to_string(c->nonce) + " (e" + std::to_string(m.epoch) + ")";
  }
  if (const auto* c = std::get_if<cluster::CaughtUp>(&m.body)) {
    if (c->recovering) return text + "caught up #" + std::to_string(c->nonce) + ": recovering";
    return text + "caught up #" + std::to_string(c->nonce) + ": counter " +
           std::to_string(c->token_counter) + ", highest b" + BallotText(c->highest);
  }
  if (const auto* r = std::get_if<cluster::RaiseFloors>(&m.body)) {
    return text + "raise floors #" + std::to_string(r->nonce) + " to counter " +
           std::to_string(r->token_counter) + ", b" + BallotText(r->highest);
  }
  if (const auto* f = std::get_if<cluster::FloorsRaised>(&m.body)) {
    return text + "floors raised #" + std::to_string(f->nonce);
  }
  return text + "probe reply";
}

bool ExpectsReply(const cluster::Message& message) {
  return std::holds_alternative<cluster::Prepare>(message.body) ||
         std::holds_alternative<cluster::Accept>(message.body) ||
         std::holds_alternative<cluster::Probe>(message.body) ||
         std::holds_alternative<cluster::SyncRequest>(message.body) ||
         std::holds_alternative<cluster::ConfigurationQuery>(message.body) ||
         std::holds_alternative<cluster::ConfigPrepare>(message.body) ||
         std::holds_alternative<cluster::ConfigAccept>(message.body) ||
         std::holds_alternative<cluster::RaiseFloors>(message.body);
}

void Network::Send(const cluster::Message& message) {
  flights_.push_back({message, DigestMessage(message), next_seq_++});
}

Flight Network::Take(size_t index) {
  Flight flight = std::move(flights_[index]);
  flights_.erase(flights_.begin() + static_cast<long>(index));
  return flight;
}

bool Network::Deliverable(size_t index) const {
  if (index >= flights_.size()) return false;
  if (!fifo_links_) return true;
  const cluster::Message& message = flights_[index].message;
  for (size_t i = 0; i < index; ++i) {
    if (flights_[i].message.from == message.from && flights_[i].message.to == message.to) {
      return false;
    }
  }
  return true;
}

void Network::Drop(size_t index) {
  const cluster::Message message = flights_[index].message;
  if (!fifo_links_) {
    Take(index);
    return;
  }
  std::erase_if(flights_, [&message](const Flight& flight) {
    return flight.message.from == message.from && flight.message.to == message.to;
  });
}

int Network::FindOnLink(cluster::MemberId from, cluster::MemberId to, uint64_t seq) const {
  for (size_t i = 0; i < flights_.size(); ++i) {
    const Flight& flight = flights_[i];
    if (flight.seq >= seq && flight.message.from == from && flight.message.to == to) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void Network::Digest(StateDigest* digest) const {
  std::vector<std::pair<uint64_t, uint64_t>> order;  // (link, digest) or (0, digest)
  order.reserve(flights_.size());
  for (const Flight& flight : flights_) {
    const uint64_t link =
        fifo_links_ ? (uint64_t{flight.message.from} << 32) | flight.message.to : 0;
    order.emplace_back(link, flight.digest);
  }
  // A stable sort by link keeps each link's order; without FIFO links the
  // digests themselves are sorted (a set of messages).
  if (fifo_links_) {
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
  } else {
    std::sort(order.begin(), order.end());
  }
  digest->Add(order.size());
  for (const auto& [link, message] : order) {
    digest->Add(link);
    digest->Add(message);
  }
}

}  // namespace lockerd::explorer
