#include "cluster/node.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "cluster/check.h"
#include "cluster/decision.h"
#include "cluster/lease_math.h"
#include "cluster/quorum.h"

namespace lockerd::cluster {
namespace {

// A free register of a member alone need not be kept: no other member can
// hold an older state of it. In a cluster it is kept as a tombstone until
// every lease at a lower ballot has ended everywhere.
int64_t TombstoneMs(const NodeOptions& options) {
  return options.members_count == 1 ? 0 : QuarantineMs(options.max_lease_ms, options.drift);
}

CoordinatorOptions CoordinatorOptionsOf(const NodeOptions& options) {
  CoordinatorOptions result;
  result.members_count = options.members_count;
  result.self = options.self;
  result.drift = options.drift;
  result.max_lease_ms = options.max_lease_ms;
  result.round_timeout_ms = options.round_timeout_ms;
  result.seed = options.seed;
  return result;
}

}  // namespace

Node::Node(NodeOptions options)
    : options_(options),
      table_(TombstoneMs(options), HashKeyFromSeed(options.seed)),
      acceptor_(&table_),
      coordinator_(CoordinatorOptionsOf(options)),
      txn_(CoordinatorOptionsOf(options), &coordinator_) {
  // This member's view is a hint only: the peek reads a majority.
  coordinator_.SetRefusalHint([this](const WriteRequest& request, Time now) {
    const Register* reg = table_.FindHeld(request.key, now.mono_ms);
    return reg != nullptr && reg->owner != request.owner;
  });
  coordinator_.SetLocalView([this](const std::string& key, Time now, LocalRegister* out) {
    const Register* reg = table_.Find(key);
    if (reg == nullptr) return false;
    out->promised = reg->promised;
    out->accepted = reg->accepted;
    out->lease = {};
    if (reg->HeldAt(now.mono_ms)) {
      out->lease = {true, reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms)};
    }
    return true;
  });
}

void Node::Submit(WriteRequest request, Time now) {
  if (options_.members_count == 1) return SubmitAlone(request, now);
  coordinator_.Submit(std::move(request), now, &pending_);
  DeliverLocal(now);
}

void Node::SubmitAlone(const WriteRequest& request, Time now) {
  // A member alone is its own majority: its promise and its commit are the
  // same instant, so it decides against its own register and applies at
  // once, with the same rules a round uses (decision.cc), at a fresh ballot.
  const auto answer = [&](WriteOutcome outcome, uint64_t token, int64_t remaining_ms,
                          std::string detail) {
    if (request.request_id != 0) {
      alone_results_.push_back({request.request_id, outcome, token, remaining_ms, std::move(detail)});
    }
  };
  if (acceptor_.Quarantined(now.mono_ms)) {
    return answer(WriteOutcome::kTryAgain, 0, 0,
                  "members are in restart quarantine for another " +
                      std::to_string(acceptor_.quarantine_until_ms() - now.mono_ms) + " ms");
  }
  Register& reg = table_.FindOrCreate(request.key, now.mono_ms);
  LeaseView lease;
  if (reg.HeldAt(now.mono_ms)) {
    lease.held = true;
    lease.owner = reg.owner;
    lease.token = reg.token;
    lease.remaining_ms = reg.RemainingMs(now.mono_ms);
  }
  const Decision decision = DecideWrite({request, lease, reg.accepted, acceptor_.token_counter(),
                                         now.wall_ms, options_.drift, options_.max_lease_ms});
  switch (decision.kind) {
    case Decision::Kind::kRefuse:
      return answer(WriteOutcome::kRefused, decision.holder_token, decision.holder_remaining_ms, {});
    case Decision::Kind::kNothing:
      return answer(WriteOutcome::kDone, 0, 0, {});
    case Decision::Kind::kCommit:
      break;
  }
  const Ballot ballot = coordinator_.NextBallotAbove(std::max(reg.promised, table_.ballot_floor()));
  acceptor_.ApplyOwnDecision(reg, ballot, decision.held, decision.owner, decision.token,
                             decision.ttl_ms, now.mono_ms);
  answer(WriteOutcome::kDone, decision.token, 0, {});
}

void Node::Receive(const Message& message, Time now) {
  Handle(message, now);
  DeliverLocal(now);
}

bool Node::LeaseSane(bool held, int64_t ttl_ms, uint64_t token) {
  // A held lease has a ttl in 1..max-lease-ms and a token (tokens start at 1).
  if (!held || (ttl_ms >= 1 && ttl_ms <= options_.max_lease_ms && token != 0)) return true;
  ++malformed_messages_;  // A peer's bug or forgery: dropped, never applied.
  return false;
}

void Node::Handle(const Message& message, Time now) {
  if (message.to != options_.self || message.from >= options_.members_count) return;
  // This member's own next round starts above every ballot it has seen
  // from a peer: a waiter woken by another member's release would otherwise
  // be refused by its own acceptor and back off before it could win.
  if (const auto* prepare = std::get_if<Prepare>(&message.body)) {
    coordinator_.RaiseBallot(prepare->ballot);
    pending_.push_back({options_.self, message.from, acceptor_.OnPrepare(*prepare, now.mono_ms)});
  } else if (const auto* accept = std::get_if<Accept>(&message.body)) {
    if (!LeaseSane(accept->held, accept->ttl_ms, accept->token)) return;
    coordinator_.RaiseBallot(accept->ballot);
    pending_.push_back({options_.self, message.from, acceptor_.OnAccept(*accept, now.mono_ms)});
  } else if (const auto* promise = std::get_if<Promise>(&message.body)) {
    // Durations from a peer are bounded before any arithmetic uses them.
    Promise bounded = *promise;
    bounded.lease.remaining_ms = std::clamp<int64_t>(bounded.lease.remaining_ms, 0, options_.max_lease_ms);
    bounded.quarantine_left_ms = std::max<int64_t>(bounded.quarantine_left_ms, 0);
    if (bounded.lease.held && !LeaseSane(true, std::max<int64_t>(bounded.lease.remaining_ms, 1), bounded.lease.token)) {
      return;  // A held lease without a token: a peer's bug or forgery.
    }
    if (TxnCoordinator::Owns(bounded.round_id)) {
      txn_.OnPromise(message.from, bounded, now, &pending_);
    } else {
      coordinator_.OnPromise(message.from, bounded, now, &pending_);
    }
  } else if (const auto* accepted = std::get_if<Accepted>(&message.body)) {
    if (TxnCoordinator::Owns(accepted->round_id)) {
      txn_.OnAccepted(message.from, *accepted, now, &pending_);
    } else {
      coordinator_.OnAccepted(message.from, *accepted, now, &pending_);
    }
  } else if (const auto* request = std::get_if<SyncRequest>(&message.body)) {
    pending_.push_back({options_.self, message.from,
                        SyncReply{request->nonce, acceptor_.token_counter(), HighestBallot()}});
  } else if (const auto* reply = std::get_if<SyncReply>(&message.body)) {
    OnSyncReply(message.from, *reply);
  } else if (const auto* learn = std::get_if<Learn>(&message.body)) {
    if (!LeaseSane(learn->held, learn->ttl_ms, learn->token)) return;
    coordinator_.RaiseBallot(learn->ballot);
    acceptor_.OnLearn(*learn, now.mono_ms);
  }
}

void Node::SendSyncRequests(Time now) {
  for (MemberId member = 0; member < options_.members_count; ++member) {
    if (member != options_.self) pending_.push_back({options_.self, member, SyncRequest{sync_nonce_}});
  }
  next_sync_ms_ = now.mono_ms + options_.round_timeout_ms;
}

void Node::OnSyncReply(MemberId from, const SyncReply& reply) {
  if (!syncing_ || reply.nonce != sync_nonce_ || from == options_.self) return;
  acceptor_.RaiseTokenCounter(reply.token_counter);
  table_.RaiseBallotFloor(reply.highest);
  coordinator_.RaiseBallot(reply.highest);
  sync_answered_mask_ |= uint32_t{1} << from;
  // A majority of the *others*: a token committed before the restart is on
  // a majority, which may have included this member and its lost memory;
  // the rest of that majority is then a minority of the others, which any
  // majority of the others intersects.
  if (static_cast<size_t>(std::popcount(sync_answered_mask_)) >=
      MajorityOf(options_.members_count - 1)) {
    syncing_ = false;
    acceptor_.SetSynced(true);
  }
}

Ballot Node::HighestBallot() const {
  Ballot highest = std::max(table_.ballot_floor(), coordinator_.last_ballot());
  for (size_t slot = 0; slot < table_.slot_limit(); ++slot) {
    if (const Register* reg = table_.RegisterAt(slot)) highest = std::max(highest, reg->promised);
  }
  return highest;
}

void Node::SubmitTxn(TxnRequest request, Time now) {
  if (options_.members_count == 1) return SubmitTxnAlone(request, now);
  txn_.Submit(std::move(request), now, &pending_);
  DeliverLocal(now);
}

void Node::SubmitTxnAlone(const TxnRequest& request, Time now) {
  // As SubmitAlone: promise and commit are one instant on a member alone.
  // The body runs on its own registers and its writes apply at once, at
  // one fresh ballot above every key's; a renewal keeps the longer
  // deadline (Acceptor::Apply).
  const auto answer = [&](WriteOutcome outcome, std::string detail) {
    if (request.request_id != 0) alone_results_.push_back({request.request_id, outcome, 0, 0, std::move(detail)});
  };
  if (acceptor_.Quarantined(now.mono_ms)) {
    return answer(WriteOutcome::kTryAgain,
                  "members are in restart quarantine for another " +
                      std::to_string(acceptor_.quarantine_until_ms() - now.mono_ms) + " ms");
  }
  std::vector<LeaseView> leases(request.keys.size());
  for (size_t i = 0; i < request.keys.size(); ++i) {
    if (const Register* reg = table_.FindHeld(request.keys[i], now.mono_ms)) {
      leases[i] = {true, reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms)};
    }
  }
  const std::vector<TxnWrite> writes =
      request.body(TxnView{request.keys, leases, acceptor_.token_counter(), now.wall_ms});
  CHECK(writes.size() == request.keys.size());
  Ballot floor = table_.ballot_floor();
  for (size_t i = 0; i < writes.size(); ++i) {
    if (!writes[i].write) continue;
    if (const Register* reg = table_.Find(request.keys[i])) floor = std::max(floor, reg->promised);
  }
  const Ballot ballot = coordinator_.NextBallotAbove(floor);
  for (size_t i = 0; i < writes.size(); ++i) {
    const TxnWrite& write = writes[i];
    if (!write.write) continue;
    Register& reg = table_.FindOrCreate(request.keys[i], now.mono_ms);
    const int64_t ttl_ms = write.held ? std::min(write.ttl_ms, options_.max_lease_ms) : 0;
    acceptor_.ApplyOwnDecision(reg, ballot, write.held && ttl_ms > 0, write.held ? write.owner : std::string(),
                               write.held ? write.token : 0, ttl_ms, now.mono_ms);
  }
  answer(WriteOutcome::kDone, {});
}

void Node::DeliverLocal(Time now) {
  // Handling one message may produce more (a promise leads to accepts), so
  // work through a queue; messages for others are set aside.
  while (!pending_.empty()) {
    local_batch_.clear();
    local_batch_.swap(pending_);
    for (Message& message : local_batch_) {
      if (message.to == options_.self) {
        Handle(message, now);
      } else {
        outbox_.push_back(std::move(message));
      }
    }
  }
}

void Node::Tick(Time now) {
  table_.ExpireDue(now.mono_ms, options_.expire_budget);
  coordinator_.Tick(now, &pending_);
  txn_.Tick(now, &pending_);
  if (syncing_ && now.mono_ms >= next_sync_ms_) SendSyncRequests(now);
  DeliverLocal(now);
}

std::optional<int64_t> Node::NextWakeMs() const {
  std::optional<int64_t> next = table_.NextWakeMs();
  if (const auto rounds = coordinator_.NextWakeMs(); rounds && (!next || *rounds < *next)) {
    next = rounds;
  }
  if (const auto txns = txn_.NextWakeMs(); txns && (!next || *txns < *next)) next = txns;
  if (syncing_ && (!next || next_sync_ms_ < *next)) next = next_sync_ms_;
  return next;
}

void Node::TakeOutbox(std::vector<Message>* out) {
  out->clear();
  out->swap(outbox_);
}

void Node::TakeResults(std::vector<WriteResult>* out) {
  coordinator_.TakeResults(out);
  txn_.TakeResults(out);
  if (!alone_results_.empty()) {
    out->insert(out->end(), std::make_move_iterator(alone_results_.begin()),
                std::make_move_iterator(alone_results_.end()));
    alone_results_.clear();
  }
}

void Node::StartQuarantine(Time now) {
  acceptor_.QuarantineUntil(now.mono_ms + QuarantineMs(options_.max_lease_ms, options_.drift) +
                            options_.round_timeout_ms);
  if (options_.members_count == 1) return;
  BeginSync(now);
}

void Node::BeginSync(Time now) {
  syncing_ = true;
  acceptor_.SetSynced(false);
  ++sync_nonce_;
  sync_answered_mask_ = 0;
  SendSyncRequests(now);
  DeliverLocal(now);
}

NodeState Node::Save(Time now) const {
  NodeState state;
  state.quarantine_left_ms = std::max<int64_t>(0, acceptor_.quarantine_until_ms() - now.mono_ms);
  state.needs_sync = syncing_;
  state.token_counter = acceptor_.token_counter();
  state.ballot_floor = std::max(table_.ballot_floor(), coordinator_.last_ballot());
  for (size_t slot = 0; slot < table_.slot_limit(); ++slot) {
    const Register* reg = table_.RegisterAt(slot);
    if (reg == nullptr) continue;
    state.ballot_floor = std::max(state.ballot_floor, reg->promised);
    if (!reg->HeldAt(now.mono_ms)) continue;
    state.leases.push_back(
        {table_.KeyAt(slot)->str(), reg->owner.str(), reg->token, reg->RemainingMs(now.mono_ms), reg->accepted});
  }
  return state;
}

void Node::Restore(const NodeState& state, Time now, int64_t downtime_ms) {
  const int64_t quarantine_left_ms = state.quarantine_left_ms - std::max<int64_t>(downtime_ms, 0);
  if (quarantine_left_ms > 0 || state.needs_sync) {
    acceptor_.QuarantineUntil(now.mono_ms + std::max<int64_t>(quarantine_left_ms, 0));
    if (state.needs_sync && options_.members_count > 1) BeginSync(now);
  }
  acceptor_.RaiseTokenCounter(state.token_counter);
  table_.RaiseBallotFloor(state.ballot_floor);
  coordinator_.RaiseBallot(state.ballot_floor);
  for (const SavedLease& lease : state.leases) {
    acceptor_.RaiseTokenCounter(lease.token);
    const int64_t remaining_ms = lease.remaining_ms - std::max<int64_t>(downtime_ms, 0);
    if (remaining_ms <= 0) continue;
    Register& reg = table_.FindOrCreate(lease.key, now.mono_ms);
    table_.Hold(reg, lease.accepted, lease.owner, lease.token, now.mono_ms + remaining_ms);
  }
}

}  // namespace lockerd::cluster
