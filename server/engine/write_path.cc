// The engine's write path: lock writes, scripts and deletes submitted to
// the node, admitted against the limits, and their results turned into
// replies in each client's order; messages from peers in.
#include "server/engine/engine.h"

#include <algorithm>
#include <utility>

#include "base/errors.h"
#include "base/check.h"
#include "server/config/limits.h"
#include "server/script/script_reply.h"

namespace lockerd::server {

void Engine::ReceivePeer(const cluster::Message& message, Time now) {
  ++stats_.peer_messages_in;
  // What this member would promise or accept could not be made durable:
  // to its peers it is as if the message were lost.
  if (!cannot_persist_.empty()) return;
  node_.Receive(message, now);
  Drain(now);
}

void Engine::SubmitWrite(Client& client, cluster::WriteRequest request, ReplyStyle style,
                         Time now) {
  PendingWrite pending;
  pending.style = style;
  pending.op = request.op;
  Submit(client, std::move(request), std::move(pending), now);
}

void Engine::SubmitScript(Client& client, cluster::TxnRequest request,
                          std::shared_ptr<script::ScriptValue> reply, Time now) {
  PendingWrite pending;
  pending.client_id = client.id();
  pending.style = ReplyStyle::kScript;
  pending.script_reply = std::move(reply);
  pending.started_us = now.mono_us;
  (void)client.replies().TakePipelinedWrite();  // A script's write never pipelines.
  if (!cannot_persist_.empty()) return ReplyError(client, errors::MisconfLog(cannot_persist_));
  client.blocked = BlockKind::kWrite;
  request.request_id = next_request_id_++;
  pending_writes_.emplace(request.request_id, std::move(pending));
  node_.SubmitTxn(std::move(request), now);
  Drain(now);
}

void Engine::SubmitMembershipChange(Client& client, cluster::MembershipRequest request, std::string what,
                                    Time now) {
  PendingWrite pending;
  pending.client_id = client.id();
  pending.style = ReplyStyle::kMembership;
  pending.membership_change = std::move(what);
  if (!cannot_persist_.empty()) return ReplyError(client, errors::MisconfLog(cannot_persist_));
  client.blocked = BlockKind::kWrite;
  request.request_id = next_request_id_++;
  pending_writes_.emplace(request.request_id, std::move(pending));
  node_.ChangeMembership(request, now);
  Drain(now);
}

void Engine::SubmitLockWait(Client& client, cluster::WriteRequest request, int64_t deadline_ms,
                            bool front_of_line, Time now) {
  PendingWrite pending;
  pending.style = ReplyStyle::kToken;
  pending.op = request.op;
  pending.wait = true;
  pending.front_of_line = front_of_line;
  pending.deadline_ms = deadline_ms;
  pending.request = request;  // Kept to run again when the key is freed.
  Submit(client, std::move(request), std::move(pending), now);
}

void Engine::SubmitDelete(Client& client, std::span<const std::string> keys, Time now) {
  for (const std::string& key : keys) {
    if (key.size() > config_.max_key_bytes) {
      return ReplyError(client, errors::KeyTooLong(config_.max_key_bytes));
    }
  }
  if (!cannot_persist_.empty()) return ReplyError(client, errors::MisconfLog(cannot_persist_));
  const uint64_t batch_id = next_delete_batch_++;
  delete_batches_.emplace(batch_id, DeleteBatch{client.id(), keys.size(), 0, {}});
  client.blocked = BlockKind::kWrite;
  for (const std::string& key : keys) {
    cluster::WriteRequest request;
    request.op = cluster::WriteOp::kDelete;
    request.key = key;
    PendingWrite pending;
    pending.client_id = client.id();
    pending.style = ReplyStyle::kDelete;
    pending.op = cluster::WriteOp::kDelete;
    pending.delete_batch = batch_id;
    Enqueue(std::move(request), std::move(pending), now);
  }
  Drain(now);
}

bool Engine::Admit(Client& client, const cluster::WriteRequest& request, Time now) {
  // Execute refuses write commands; this catches what was admitted before
  // (a LOCK ... WAIT woken, a pipelined write deferred).
  if (!cannot_persist_.empty()) {
    ReplyError(client, errors::MisconfLog(cannot_persist_));
    return false;
  }
  const size_t max = config_.max_key_bytes;
  if (request.key.size() > max || request.owner.size() > max || request.new_owner.size() > max) {
    ReplyError(client, errors::KeyTooLong(max));
    return false;
  }
  const cluster::LeaseTable& table = node_.table();
  if (request.op == cluster::WriteOp::kLock && table.held_count() >= config_.maxkeys &&
      table.FindHeld(request.key, now.mono_ms) == nullptr) {
    ReplyError(client, errors::MaxKeys(config_.maxkeys));
    return false;
  }
  return true;
}

void Engine::Submit(Client& client, cluster::WriteRequest request, PendingWrite pending,
                    Time now) {
  if (!Admit(client, request, now)) {
    // A waiter refused on waking (-MISCONF) hands its turn on, as one that
    // leaves with NOQUORUM does: the line must not stall behind it.
    if (pending.wait && waiters_.HasAcquirers(request.key)) MarkReady(request.key, /*freed=*/false);
    return;
  }
  pending.client_id = client.id();
  const bool pipelined = client.replies().TakePipelinedWrite();
  if (!pipelined) {
    client.blocked = BlockKind::kWrite;
    Enqueue(std::move(request), std::move(pending), now);
    return Drain(now);
  }
  pending.pipelined = true;
  const uint64_t request_id = next_request_id_;
  Enqueue(std::move(request), std::move(pending), now);
  Drain(now);  // A member alone answers at once.
  const auto it = pending_writes_.find(request_id);
  if (it == pending_writes_.end()) return;
  // Still in flight: its reply needs a place in the client's reply order.
  it->second.slot = client.replies().SlotForWrite();
  it->second.slotted = true;
  if (++client.pipeline.writes_in_flight >= kClientWritesInFlightMax) client.blocked = BlockKind::kWrites;
}

void Engine::Enqueue(cluster::WriteRequest request, PendingWrite pending, Time now) {
  request.request_id = next_request_id_++;
  if (pending.wait) {
    ++wait_flights_[request.key].rounds;
    pending.freed_seq_at_start = freed_seq_;
    node_.WatchKey(request.key);
  }
  pending.started_us = now.mono_us;
  pending_writes_.emplace(request.request_id, std::move(pending));
  node_.Submit(std::move(request), now);
}

void Engine::Drain(Time now) {
  std::vector<cluster::WriteResult> results;
  results.swap(results_scratch_);
  node_.TakeResults(&results);
  for (const cluster::WriteResult& result : results) HandleResult(result, now);
  results.clear();
  results_scratch_.swap(results);
  for (const std::string& key : node_.TakeFreedKeys()) {
    if (const auto flight = wait_flights_.find(key); flight != wait_flights_.end()) {
      flight->second.freed_seq = ++freed_seq_;
    }
    MarkReady(key, /*freed=*/true);
  }
}

void Engine::HandleResult(const cluster::WriteResult& result, Time now) {
  const auto it = pending_writes_.find(result.request_id);
  if (it == pending_writes_.end()) return;
  PendingWrite pending = std::move(it->second);
  pending_writes_.erase(it);
  if (pending.started_us > 0 && now.mono_us > 0) write_latency_.Add(now.mono_us - pending.started_us);
  if (pending.wait) {
    const auto flight = wait_flights_.find(pending.request.key);
    CHECK(flight != wait_flights_.end());
    pending.freed_in_flight = flight->second.freed_seq > pending.freed_seq_at_start;
    if (--flight->second.rounds == 0) {
      const std::string key = flight->first;
      wait_flights_.erase(flight);
      UnwatchIfUnused(key);
    }
  }
  if (pending.delete_batch != 0) return HandleDeleteResult(result, pending.delete_batch);
  Client* client = FindClient(pending.client_id);
  if (client == nullptr) return;  // Disconnected while the write was in flight.
  Attention(*client);
  if (!pending.slotted) {
    client->blocked = BlockKind::kNone;
    return ReplyToWrite(*client, pending, result, now);
  }
  {
    ReplyOrder::SlotScope slot(client->replies(), pending.slot);
    ReplyToWrite(*client, pending, result, now);
  }
  --client->pipeline.writes_in_flight;
  if (client->blocked == BlockKind::kWrites && client->pipeline.writes_in_flight < kClientWritesInFlightMax &&
      (client->pipeline.deferred.empty() || client->pipeline.writes_in_flight == 0)) {
    client->blocked = BlockKind::kNone;  // The server runs the deferred command, if any.
  }
}

void Engine::ReplyToWrite(Client& target, PendingWrite& pending, const cluster::WriteResult& result,
                          Time now) {
  Client* client = &target;
  const bool acquire = pending.op == cluster::WriteOp::kLock;
  protocol::RespWriter& writer = client->writer();
  switch (result.outcome) {
    case cluster::WriteOutcome::kDone:
      if (pending.style == ReplyStyle::kScript) {
        return script::WriteScriptValue(writer, *pending.script_reply);
      }
      if (pending.style == ReplyStyle::kMembership) return writer.WriteSimpleString("OK");
      if (acquire) ++stats_.locks_granted;
      if (pending.op == cluster::WriteOp::kRelease) ++stats_.releases;
      if (pending.op == cluster::WriteOp::kExtend) ++stats_.extends;
      if (pending.style == ReplyStyle::kToken) {
        writer.WriteInteger(static_cast<int64_t>(result.token));
      } else if (pending.style == ReplyStyle::kOk) {
        writer.WriteSimpleString("OK");
      } else {
        writer.WriteInteger(1);
      }
      return;
    case cluster::WriteOutcome::kRefused:
      if (pending.style == ReplyStyle::kMembership) {
        return ReplyError(*client, "ERR " + pending.membership_change + ": " + result.detail);
      }
      if (pending.wait && now.mono_ms < pending.deadline_ms) {
        if (rechecks_.size() < config_.maxclients * 2) {  // Bounded: one per waiter, mostly.
          rechecks_.emplace(now.mono_ms + result.holder_remaining_ms + 1, pending.request.key);
        }
        const std::string key = pending.request.key;
        Waiter waiter{client->id(), key, WaiterKind::kAcquire, pending.deadline_ms,
                      std::move(pending.request)};
        if (StartWait(*client, std::move(waiter), pending.front_of_line)) {
          // Refused on what the members saw before a release this member
          // has since seen: try again now rather than wait for a wake-up
          // that has already happened.
          if (pending.freed_in_flight) MarkReady(key, /*freed=*/true);
          return;
        }
        return ReplyError(*client, errors::kTooManyWaiters);
      }
      if (acquire) ++stats_.locks_denied;
      if (pending.style == ReplyStyle::kOneZero) {
        writer.WriteInteger(0);
      } else {
        writer.WriteNull();
      }
      return;
    case cluster::WriteOutcome::kNoQuorum:
    case cluster::WriteOutcome::kTryAgain:
      if (result.outcome == cluster::WriteOutcome::kNoQuorum) ++stats_.noquorum_replies;
      // A waiter that leaves with an error gives the next one its turn.
      if (pending.wait && waiters_.HasAcquirers(pending.request.key)) {
        MarkReady(pending.request.key, /*freed=*/false);
      }
      const std::string detail = pending.style == ReplyStyle::kMembership
                                     ? pending.membership_change + ": " + result.detail
                                     : result.detail;
      return ReplyError(*client, result.outcome == cluster::WriteOutcome::kNoQuorum
                                     ? errors::NoQuorum(detail)
                                     : errors::TryAgain(detail));
  }
}

void Engine::HandleDeleteResult(const cluster::WriteResult& result, uint64_t batch_id) {
  const auto it = delete_batches_.find(batch_id);
  CHECK(it != delete_batches_.end());
  DeleteBatch& batch = it->second;
  --batch.remaining;
  if (result.outcome == cluster::WriteOutcome::kDone) {
    ++batch.deleted;
  } else if (result.outcome == cluster::WriteOutcome::kNoQuorum && batch.error.empty()) {
    batch.error = errors::NoQuorum(result.detail);
  } else if (result.outcome == cluster::WriteOutcome::kTryAgain && batch.error.empty()) {
    batch.error = errors::TryAgain(result.detail);
  }
  if (batch.remaining > 0) return;
  Client* client = FindClient(batch.client_id);
  const DeleteBatch done = std::move(batch);
  delete_batches_.erase(it);
  if (client == nullptr) return;
  client->blocked = BlockKind::kNone;
  Attention(*client);
  if (done.error.empty()) {
    client->writer().WriteInteger(done.deleted);
  } else {
    ReplyError(*client, done.error);
  }
}

}  // namespace lockerd::server
