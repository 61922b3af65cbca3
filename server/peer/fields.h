// The fields of each cluster message, in the order both peer codecs put
// them on the wire (server/peer/codec.cc as text, server/peer/batch.cc in
// binary), listed once so that the two cannot drift apart. `f` is either a
// writer, given a const message (Number(uint64_t), Text(string_view), ...),
// or a reader, given a message to fill (Number(uint64_t&), ...). A Prepare's
// peek flag and each message's kind are the codecs' own business.
#pragma once

#include <type_traits>

#include "cluster/messages.h"

namespace lockerd::server {

template <typename M, typename T>
concept MessageOf = std::is_same_v<std::remove_const_t<M>, T>;

template <typename F, MessageOf<cluster::Prepare> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.Text(m.key);
  f.BallotOf(m.ballot);
}

template <typename F, MessageOf<cluster::Promise> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
  f.VoteOf(m.vote);
  f.BallotOf(m.highest);
  f.BallotOf(m.accepted);
  f.Flag(m.lease.held);
  f.Text(m.lease.owner);
  f.Number(m.lease.token);
  f.Signed(m.lease.remaining_ms);
  f.Number(m.token_counter);
  f.Signed(m.quarantine_left_ms);
}

template <typename F, MessageOf<cluster::Accept> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.Text(m.key);
  f.BallotOf(m.ballot);
  f.Flag(m.held);
  f.Text(m.owner);
  f.Number(m.token);
  f.Signed(m.ttl_ms);
  f.BallotOf(m.carry_from);
}

template <typename F, MessageOf<cluster::Accepted> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
  f.VoteOf(m.vote);
  f.BallotOf(m.highest);
  f.Signed(m.quarantine_left_ms);
}

template <typename F, MessageOf<cluster::Learn> M>
void MessageFields(F& f, M& m) {
  f.Text(m.key);
  f.BallotOf(m.ballot);
  f.Flag(m.held);
  f.Text(m.owner);
  f.Number(m.token);
  f.Signed(m.ttl_ms);
  f.BallotOf(m.carry_from);
}

template <typename F, typename V>
  requires MessageOf<V, cluster::ConfigValue>
void ConfigValueFields(F& f, V& v) {
  f.Number(v.membership.epoch);
  f.Mask(v.membership.voters);
  f.Mask(v.membership.learners);
  f.Mask(v.previous_voters);
  f.Flag(v.settled);
}

template <typename F, MessageOf<cluster::SyncRequest> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
}

template <typename F, MessageOf<cluster::SyncReply> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
  f.Flag(m.recovering);
  f.Number(m.token_counter);
  f.BallotOf(m.highest);
  f.Flag(m.pristine);
  f.Flag(m.undecided);
  f.Flag(m.vouched);
  f.Number(m.run);
  f.BallotOf(m.config_promised);
  f.BallotOf(m.config_accepted);
  ConfigValueFields(f, m.config_value);
}

template <typename F, MessageOf<cluster::Configuration> M>
void MessageFields(F& f, M& m) {
  f.Number(m.membership.epoch);
  f.Mask(m.membership.voters);
  f.Mask(m.membership.learners);
}

template <typename F, MessageOf<cluster::ConfigurationQuery> M>
void MessageFields(F&, M&) {}

template <typename F, MessageOf<cluster::ConfigPrepare> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
}

template <typename F, MessageOf<cluster::ConfigPromise> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
  f.VoteOf(m.vote);
  f.BallotOf(m.highest);
  f.BallotOf(m.accepted);
  ConfigValueFields(f, m.value);
}

template <typename F, MessageOf<cluster::ConfigAccept> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
  ConfigValueFields(f, m.value);
}

template <typename F, MessageOf<cluster::ConfigAccepted> M>
void MessageFields(F& f, M& m) {
  f.Number(m.round_id);
  f.BallotOf(m.ballot);
  f.VoteOf(m.vote);
  f.BallotOf(m.highest);
}

template <typename F, MessageOf<cluster::CatchUp> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
}

template <typename F, MessageOf<cluster::CaughtUp> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
  f.Flag(m.recovering);
  f.Number(m.token_counter);
  f.BallotOf(m.highest);
}

template <typename F, MessageOf<cluster::RaiseFloors> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
  f.Number(m.token_counter);
  f.BallotOf(m.highest);
}

template <typename F, MessageOf<cluster::FloorsRaised> M>
void MessageFields(F& f, M& m) {
  f.Number(m.nonce);
}

template <typename F, MessageOf<cluster::Probe> M>
void MessageFields(F&, M&) {}

template <typename F, MessageOf<cluster::ProbeReply> M>
void MessageFields(F&, M&) {}

// Every message's stamp (cluster/message_clocks.h) and the epoch it was
// sent under (cluster/membership.h), right after its kind.
template <typename F, MessageOf<cluster::Stamp> S, typename E>
void StampFields(F& f, S& stamp, E& epoch) {
  f.Number(stamp.incarnation);
  f.Signed(stamp.sent_ms);
  f.Number(stamp.echo_incarnation);
  f.Signed(stamp.echo_ms);
  f.Number(epoch);
}

}  // namespace lockerd::server
