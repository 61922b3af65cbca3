// The digests of a member's state (state_digest.h): every field that can
// change what the member does later goes in, its statistics do not. For
// tools that compare states (tests/explorer prunes states it has seen);
// nothing in lockerd calls these, and they only read.
//
// Unordered containers are added in key order, so that the same state
// gives the same digest whatever the order of insertion.
#include <algorithm>
#include <random>
#include <string_view>
#include <vector>

#include "cluster/node.h"

namespace lockerd::cluster {
namespace {

void AddLease(StateDigest* digest, const LeaseView& lease) {
  digest->Add(lease.held);
  digest->Add(lease.owner);
  digest->Add(lease.token);
  digest->Add(lease.remaining_ms);
}

void AddRequest(StateDigest* digest, const WriteRequest& request) {
  digest->Add(request.request_id);
  digest->Add(request.op);
  digest->Add(request.key);
  digest->Add(request.owner);
  digest->Add(request.new_owner);
  digest->Add(request.ttl_ms);
  digest->Add(request.rollback_ballot);
}

void AddAccept(StateDigest* digest, const Accept& accept) {
  digest->Add(accept.round_id);
  digest->Add(accept.key);
  digest->Add(accept.ballot);
  digest->Add(accept.held);
  digest->Add(accept.owner);
  digest->Add(accept.token);
  digest->Add(accept.ttl_ms);
}

void AddTable(StateDigest* digest, const LeaseTable& table) {
  digest->Add(table.ballot_floor());
  digest->Add(table.NextWakeMs().value_or(-1));
  for (size_t slot = 0; slot < table.slot_limit(); ++slot) {
    const Register* reg = table.RegisterAt(slot);
    if (reg == nullptr) continue;
    digest->Add(slot);
    digest->Add(table.KeyAt(slot)->view());
    digest->Add(reg->promised);
    digest->Add(reg->accepted);
    digest->Add(reg->held);
    digest->Add(reg->owner.view());
    digest->Add(reg->token);
    digest->Add(reg->deadline_ms);
    digest->Add(reg->written_ms);
    digest->Add(reg->wake_ms);
  }
}

}  // namespace

void Node::Digest(StateDigest* digest) const {
  digest->Add(options_.self);
  digest->Add(last_tick_ms_);
  AddTable(digest, table_);
  digest->Add(acceptor_.token_counter());
  digest->Add(acceptor_.quarantine_until_ms());
  digest->Add(acceptor_.synced());
  coordinator_.Digest(digest);
  // Transactions are not digested beyond their count: a tool that submits
  // them must add what it needs.
  digest->Add(txn_.in_flight());
  clocks_.Digest(digest);
  recovery_.Digest(digest);
  digest->Add(membership_.epoch);
  digest->Add(membership_.voters);
  digest->Add(membership_.learners);
  digest->Add(asked_epoch_);
  digest->Add(asked_at_ms_);
  // The configuration register and a change or catch-up in progress.
  const auto add_value = [digest](const ConfigValue& value) {
    digest->Add(value.membership.epoch);
    digest->Add(value.membership.voters);
    digest->Add(value.membership.learners);
    digest->Add(value.previous_voters);
    digest->Add(value.settled);
  };
  digest->Add(membership_state_.promised);
  digest->Add(membership_state_.accepted);
  add_value(membership_state_.value);
  digest->Add(membership_state_.joined);
  digest->Add(next_config_round_id_);
  digest->Add(change_nonces_);
  digest->Add(next_catch_up_id_);
  digest->Add(change_.has_value());
  if (change_) {
    digest->Add(change_->request.request_id);
    digest->Add(change_->request.kind);
    digest->Add(change_->request.member);
    digest->Add(change_->applied);
    digest->Add(change_->phase);
    digest->Add(change_->round_id);
    digest->Add(change_->epoch);
    digest->Add(change_->ballot);
    digest->Add(change_->tally.voters());
    digest->Add(change_->tally.yes_mask());
    digest->Add(change_->tally.no_mask());
    digest->Add(change_->found_set);
    digest->Add(change_->found_ballot);
    add_value(change_->found);
    add_value(change_->proposing);
    digest->Add(change_->proposing_own);
    add_value(change_->settling);
    digest->Add(change_->settled_epoch);
    digest->Add(change_->nonce);
    digest->Add(change_->caught_up);
    digest->Add(change_->recovering);
    digest->Add(change_->counter_max);
    digest->Add(change_->highest_max);
    digest->Add(change_->floors_raised);
    digest->Add(change_->attempt);
    digest->Add(change_->resend_at_ms);
    digest->Add(change_->deadline_ms);
  }
  digest->Add(catch_up_.has_value());
  if (catch_up_) {
    digest->Add(catch_up_->epoch);
    for (const auto& [asker, nonce] : catch_up_->askers) {
      digest->Add(asker);
      digest->Add(nonce);
    }
    digest->Add(catch_up_->first_id);
    digest->Add(catch_up_->writing.size());
    digest->Add(catch_up_->failures);
    for (const std::string& key : catch_up_->keys) digest->Add(key);
    digest->Add(catch_up_->in_flight);
    digest->Add(catch_up_->done);
  }
  ForEachMember(membership_.members(), [&](MemberId member) { digest->Add(vouched_runs_[member]); });
  // What may leave before a sync (MaySendBeforeSync) and what the next
  // record holds.
  digest->Add(durable_round_reserve_);
  digest->Add(changes_need_sync_);
  digest->Add(journaled_.token_counter);
  digest->Add(journaled_.ballot_floor);
  digest->Add(journaled_.quarantine_until_ms);
  digest->Add(journaled_.needs_sync);
  digest->Add(journaled_.round_reserve);
  // Between calls these are empty once the caller took its outbox and
  // results; counted in case it did not.
  digest->Add(pending_.size());
  digest->Add(outbox_.size());
  digest->Add(alone_results_.size());
}

void Coordinator::Digest(StateDigest* digest) const {
  digest->Add(unreachable_);
  digest->Add(ballot_round_);
  digest->Add(first_own_round_);
  digest->Add(next_round_id_);
  digest->Add(membership_.epoch);
  digest->Add(membership_.voters);
  digest->Add(membership_.learners);
  digest->Add(submit_seq_);
  digest->Add(queued_count_);
  digest->Add(results_.size());
  digest->Add(results_holder_remaining_ms_);
  // Where the backoff jitter stands: its next draw, from a copy.
  std::mt19937_64 rng = rng_;
  digest->Add(rng());
  std::vector<uint64_t> round_ids;
  for (const auto& [round_id, round] : rounds_) round_ids.push_back(round_id);
  std::sort(round_ids.begin(), round_ids.end());
  for (const uint64_t round_id : round_ids) {
    const Round& round = rounds_.at(round_id);
    digest->Add(round_id);
    AddRequest(digest, round.request);
    digest->Add(round.ballot);
    digest->Add(round.phase);
    digest->Add(round.attempt);
    digest->Add(round.epoch);
    digest->Add(round.tally.voters());
    digest->Add(round.sent_ms);
    digest->Add(round.deadline_ms);
    digest->Add(round.retry_at_ms);
    digest->Add(round.tally.yes_mask());
    digest->Add(round.tally.no_mask());
    digest->Add(round.quarantined);
    digest->Add(round.outvoted);
    digest->Add(round.quarantine_left_ms);
    digest->Add(round.chosen_set);
    digest->Add(round.chosen_ballot);
    AddLease(digest, round.chosen);
    digest->Add(round.counter_max);
    AddAccept(digest, round.accept);
    digest->Add(round.peeks_agree);
    digest->Add(round.attempt_seq);
    digest->Add(round.release_sent);
    digest->Add(round.release_ballot);
    digest->Add(round.release_token);
    digest->Add(round.release_lease_floor_ms);
    digest->Add(round.fast);
    digest->Add(round.fast_tried);
    digest->Add(round.own_accept_sent);
  }
  std::vector<std::string_view> keys;
  for (const auto& [key, line] : keys_in_flight_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string_view key : keys) {
    digest->Add(key);
    for (const Queued& queued : keys_in_flight_.find(key)->second) {
      AddRequest(digest, queued.request);
      digest->Add(queued.queued_ms);
      digest->Add(queued.seq);
    }
  }
  for (const std::string& key : keys_done_) digest->Add(key);
}

void MessageClocks::Digest(StateDigest* digest) const {
  digest->Add(self_);
  digest->Add(incarnation_);
  // Ids that no member has used leave no trace (peers_ has room for every
  // id a membership change may bring).
  for (size_t id = 0; id < peers_.size(); ++id) {
    const Peer& peer = peers_[id];
    if (peer.echo_incarnation == 0 && peer.bound_incarnation == 0 && peer.next_probe_ms == 0 &&
        !peer.probe_soon) {
      continue;
    }
    digest->Add(id);
    digest->Add(peer.echo_incarnation);
    digest->Add(peer.echo_ms);
    digest->Add(peer.bound_incarnation);
    digest->Add(peer.offset_floor_ms);
    digest->Add(peer.bound_from_ms);
    digest->Add(peer.bound_at_ms);
    digest->Add(peer.next_probe_ms);
    digest->Add(peer.probe_soon);
  }
}

void RecoverySync::Digest(StateDigest* digest) const {
  digest->Add(recovering_);
  digest->Add(static_cast<int>(kind_));
  digest->Add(begun_);
  digest->Add(began_ms_);
  digest->Add(requests_sent_);
  digest->Add(history_seen_);
  digest->Add(hopeless_);
  digest->Add(nonce_);
  digest->Add(next_request_ms_);
  digest->Add(answered_mask_);
  digest->Add(recovering_mask_);
  digest->Add(knowing_mask_);
  digest->Add(others_);
  ForEachMember(others_, [&](MemberId member) { digest->Add(unvoted_runs_[member]); });
}

}  // namespace lockerd::cluster
