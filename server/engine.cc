#include "server/engine.h"

#include <algorithm>
#include <utility>

#include "cluster/check.h"
#include "protocol/ascii.h"
#include "server/command_table.h"
#include "server/commands.h"
#include "server/errors.h"
#include "server/limits.h"
#include "server/script/script_reply.h"

namespace lockerd::server {
namespace {

cluster::NodeOptions NodeOptionsOf(const Config& config, uint64_t seed) {
  cluster::NodeOptions options;
  options.seed = seed;
  options.members_count = std::max<size_t>(1, config.cluster.size());
  options.self = static_cast<cluster::MemberId>(config.self_index);
  options.max_lease_ms = config.max_lease_ms;
  options.drift = config.lease_drift;
  options.round_timeout_ms = config.round_timeout_ms;
  // This run's incarnation: from the (random) seed, in 1..2^63-1.
  options.incarnation = ((seed * 0x9E3779B97F4A7C15ull) >> 1) | 1;
  options.broken = config.broken_rules;
  return options;
}

bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace

Engine::Engine(Config config, Time now, uint64_t seed)
    : config_(std::move(config)),
      acl_(config_.users, config_.requirepass),
      node_(NodeOptionsOf(config_, seed)),
      waiters_(cluster::HashKeyFromSeed(seed)),
      ready_keys_(16, cluster::StringHash{cluster::HashKeyFromSeed(seed)}),
      wait_flights_(16, cluster::StringHash{cluster::HashKeyFromSeed(seed)}),
      lua_(script::LuaLimits{config_.script_time_limit_ms, config_.script_memory_limit,
                             config_.script_cache_max, config_.script_max_bytes}) {
  process_.started_mono_ms = now.mono_ms;
  process_.started_wall_ms = now.wall_ms;
  process_.tcp_port = config_.port;
  process_.config_file = config_.config_file;
}

void Engine::AddClient(Client* client) {
  clients_.emplace(client->id(), client);
  ++stats_.connections_received;
  SetDefaultUser(*client);
}

void Engine::SetUser(Client& client, std::shared_ptr<const AclUser> user) {
  CHECK(user != nullptr);
  client.user = std::move(user);
  client.authenticated = true;
}

void Engine::SetDefaultUser(Client& client) {
  client.user = acl_.default_user();
  client.authenticated = client.user->enabled() && client.user->nopass();
}

const AclUser& Engine::UserOf(const Client& client) const {
  return client.user != nullptr ? *client.user : *acl_.default_user();
}

void Engine::RemoveClient(Client* client) {
  clients_.erase(client->id());
  if (const auto waiter = waiters_.Remove(client->id())) ForgetWait(*waiter);
  // Its writes in flight finish without it: their results find no client.
}

Client* Engine::FindClient(uint64_t id) const {
  const auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second;
}

size_t Engine::blocked_clients() const {
  size_t count = 0;
  for (const auto& [id, client] : clients_) count += client->blocked != BlockKind::kNone;
  return count;
}

void Engine::ReplyError(Client& client, std::string_view text) {
  ++stats_.error_replies;
  client.writer().WriteError(text);
}

void Engine::Execute(Client& client, std::span<const std::string> args, Time now) {
  CHECK(!args.empty());
  CHECK(client.blocked == BlockKind::kNone);
  ++stats_.commands_processed;
  ++client.commands_count;
  client.last_interaction_ms = now.mono_ms;
  // Answers that do not wait for a round still answer in command order:
  // behind the replies of writes in flight, not ahead of them.
  const auto answer_now = [&client](const auto& write) {
    if (!client.has_slots()) return write();
    client.BeginSlot();
    write();
    client.EndSlot(/*done=*/true);
  };
  const auto refuse = [&](std::string_view text) { answer_now([&] { ReplyError(client, text); }); };
  // A command refused between MULTI and EXEC makes EXEC answer EXECABORT,
  // as in Redis. A MULTI refused itself (for its arguments, or by ACL)
  // refuses what follows up to EXEC or DISCARD (Redis would run it; a client
  // told "error" must not hold a lock): commands_transaction.cc.
  const CommandSpec* spec = FindCommand(args[0]);
  const auto reject = [&](std::string_view text) {
    if (client.in_multi()) {
      if (client.transaction->queuing() && spec != nullptr && spec->handler == CmdExec) {
        // An EXEC refused (arity, ACL) ends the transaction, as Redis's does.
        client.transaction.reset();
        if (text.rfind("ERR ", 0) == 0) text.remove_prefix(4);
        return refuse("EXECABORT Transaction discarded because of: " + std::string(text));
      }
      if (client.transaction->queuing()) client.transaction->aborted = true;
    } else if (spec != nullptr && spec->handler == CmdMulti && client.authenticated) {
      client.StartTransaction().state = Transaction::State::kRefused;
    }
    refuse(text);
  };
  if (spec == nullptr) {
    client.last_command = "unknown";
    return reject(errors::UnknownCommand(args[0], args.subspan(1)));
  }
  if (!spec->subcommands.empty() && args.size() >= 2) {
    const CommandSpec* sub = FindSubcommand(*spec, args[1]);
    if (sub == nullptr) {
      client.last_command = spec->name;
      return reject(errors::UnknownSubcommand(args[1], protocol::ToUpper(spec->name)));
    }
    spec = sub;
  }
  client.last_command = spec->name;
  if (!ArityOk(spec->arity, args.size())) return reject(errors::WrongArity(spec->name));
  if (client.reserved_for_peer && spec->handler != CmdPeer) {
    client.close_after_reply = true;
    return refuse(errors::kMaxClients);
  }
  if (client.peer_only && spec->handler != CmdPeer) {
    client.close_after_reply = true;
    return refuse(client.peer_member >= 0 ? "ERR a peer link carries PEER commands only"
                                          : std::string(errors::kProtected));
  }
  if (!client.authenticated && !(spec->flags & kFlagNoAuth)) {
    return reject(errors::kNoAuth);
  }
  // DISCARD ends a MULTI whatever the ACL, and so does EXEC a refused one:
  // a user whose ACL refused MULTI (and so maybe EXEC) must still be able to
  // end it. An EXEC the ACL refuses in a transaction aborts it (reject).
  const bool in_refused_multi = client.in_multi() && client.transaction->refused();
  const bool ends_multi = client.in_multi() && (spec->handler == CmdDiscard ||
                                                (spec->handler == CmdExec && in_refused_multi));
  if (const AclUser& user = UserOf(client); !user.unrestricted() && !ends_multi) {
    if (const auto command = FindAclCommand(spec->name)) {
      const std::string denied = AclCheck(user, *command, args);
      if (!denied.empty()) {
        ++(denied == errors::kNoPermKey ? stats_.acl_denied_key : stats_.acl_denied_cmd);
        return reject(denied);
      }
    }
  }
  if (client.in_multi() && !RunsInsideMulti(*spec)) {
    if (in_refused_multi) return refuse(errors::kQueuedRefused);
    return answer_now([&] { QueueInTransaction(*this, client, *spec, args); });
  }
  const bool pipelined = PipelinedWrite(*spec, args);
  if (client.writes_in_flight > 0 && !pipelined) {
    // It may read what the writes before it change: it runs after them.
    client.deferred.assign(args.begin(), args.end());
    client.blocked = BlockKind::kWrites;
    return;
  }
  // Earlier writes still in flight: this reply queues behind theirs.
  const bool capture = client.has_slots();
  if (capture) capture_slot_ = client.BeginSlot();
  capture_active_ = capture;
  capture_pending_ = false;
  executing_pipelined_ = pipelined;
  executing_client_id_ = client.id();
  CommandContext context{*this, client, args, now};
  spec->handler(context);
  executing_client_id_ = 0;
  executing_pipelined_ = false;
  capture_active_ = false;
  if (capture) client.EndSlot(/*done=*/!capture_pending_);
}

void Engine::RunDeferred(Client& client, Time now) {
  if (client.deferred.empty() || client.blocked != BlockKind::kNone) return;
  std::vector<std::string> args;
  args.swap(client.deferred);
  // Execute counts it (it was only parked).
  --stats_.commands_processed;
  --client.commands_count;
  Execute(client, args, now);
}

// What runs at once between MULTI and EXEC rather than being queued (as in
// Redis): the transaction's own commands, and the connection's RESET and
// QUIT. WATCH runs to answer that it may not.
bool Engine::RunsInsideMulti(const CommandSpec& spec) {
  return spec.handler == CmdExec || spec.handler == CmdDiscard || spec.handler == CmdMulti ||
         spec.handler == CmdWatch || spec.handler == CmdReset || spec.handler == CmdQuit;
}

// Writes that may run while the client's earlier writes are in flight: each
// is one round on one key, and rounds on one key keep their order (the
// coordinator queues them), so a pipeline of them behaves as if run one by
// one. LOCK ... WAIT, DEL and everything else wait for them instead.
bool Engine::PipelinedWrite(const CommandSpec& spec, std::span<const std::string> args) {
  if (spec.handler == CmdLock) return args.size() == 4;  // Without WAIT.
  return spec.handler == CmdExtend || spec.handler == CmdRelease || spec.handler == CmdUpdate;
}

void Engine::ReceivePeer(const cluster::Message& message, Time now) {
  ++stats_.peer_messages_in;
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
  executing_pipelined_ = false;
  client.blocked = BlockKind::kWrite;
  request.request_id = next_request_id_++;
  pending_writes_.emplace(request.request_id, std::move(pending));
  node_.SubmitTxn(std::move(request), now);
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
  if (!Admit(client, request, now)) return;
  pending.client_id = client.id();
  const bool pipelined = executing_pipelined_ && client.id() == executing_client_id_;
  executing_pipelined_ = false;  // One write per command.
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
  if (capture_active_) {
    it->second.slot = capture_slot_;
    capture_pending_ = true;
  } else {
    it->second.slot = client.AddPendingSlot();
  }
  it->second.slotted = true;
  if (++client.writes_in_flight >= kClientWritesInFlightMax) client.blocked = BlockKind::kWrites;
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

void Engine::UnwatchIfUnused(const std::string& key) {
  if (!waiters_.HasWaiters(key) && !wait_flights_.contains(key)) node_.UnwatchKey(key);
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
    Client::SlotScope slot(*client, pending.slot);
    ReplyToWrite(*client, pending, result, now);
  }
  --client->writes_in_flight;
  if (client->blocked == BlockKind::kWrites && client->writes_in_flight < kClientWritesInFlightMax &&
      (client->deferred.empty() || client->writes_in_flight == 0)) {
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
      return ReplyError(*client, std::string(result.outcome == cluster::WriteOutcome::kNoQuorum
                                                 ? "NOQUORUM "
                                                 : "TRYAGAIN ") +
                                     result.detail);
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
    batch.error = "NOQUORUM " + result.detail;
  } else if (result.outcome == cluster::WriteOutcome::kTryAgain && batch.error.empty()) {
    batch.error = "TRYAGAIN " + result.detail;
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

bool Engine::StartWait(Client& client, Waiter waiter, bool front_of_line) {
  const std::string key = waiter.key;
  if (front_of_line) {
    waiters_.AddFront(std::move(waiter));
  } else {
    if (!waiters_.Add(std::move(waiter), config_.maxwaiters_per_key)) return false;
    ++stats_.waits_started;
  }
  node_.WatchKey(key);
  client.blocked = BlockKind::kWait;
  return true;
}

void Engine::StartObserve(Client& client, std::string_view key, int64_t deadline_ms) {
  Waiter waiter{client.id(), std::string(key), WaiterKind::kObserve, deadline_ms, {}};
  if (!StartWait(client, std::move(waiter), false)) ReplyError(client, errors::kTooManyWaiters);
}

void Engine::ForgetWait(const Waiter& waiter) {
  if (!waiters_.HasWaiters(waiter.key)) {
    UnwatchIfUnused(waiter.key);
  } else if (waiter.kind == WaiterKind::kAcquire) {
    // The head of the line may have left while the key was free: let the
    // next one try (ServeReadyKeys checks that the key is really free).
    MarkReady(waiter.key, /*freed=*/false);
  }
}

void Engine::MarkReady(const std::string& key, bool freed) {
  const auto [it, inserted] = ready_keys_.emplace(key, freed);
  if (inserted) {
    ready_order_.push_back(key);
  } else {
    it->second = it->second || freed;
  }
}

bool Engine::MustQueue(std::string_view key, std::string_view owner, Time now) const {
  if (!waiters_.HasAcquirers(key)) return false;
  // The holder renewing its own lease is not jumping the queue.
  const cluster::Register* reg = node_.table().FindHeld(key, now.mono_ms);
  return reg == nullptr || reg->owner != owner;
}

void Engine::QueueBehindWaiters(Client& client, cluster::WriteRequest request,
                                int64_t deadline_ms) {
  Waiter waiter{client.id(), request.key, WaiterKind::kAcquire, deadline_ms, std::move(request)};
  if (!StartWait(client, std::move(waiter), /*front_of_line=*/false)) {
    ReplyError(client, errors::kTooManyWaiters);
  }
}

void Engine::ServeReadyKeys(Time now) {
  if (ready_order_.empty()) return;
  std::vector<std::string> keys;
  keys.swap(ready_order_);
  cluster::StringMap<bool> ready;
  ready.swap(ready_keys_);
  for (const std::string& key : keys) {
    // A key only suspected free that is held here is left alone. A key this
    // member saw freed wakes its waiters even if it is held again already
    // (another member's client may take it within the same loop turn): the
    // observers asked to hear of the release, and the first acquirer runs a
    // round that is refused and puts it back at the head of the line.
    const bool freed = ready.find(key)->second;
    if (!freed && node_.table().FindHeld(key, now.mono_ms) != nullptr) continue;
    std::vector<Waiter> woken = waiters_.TakeWoken(key);
    UnwatchIfUnused(key);
    for (Waiter& waiter : woken) {
      Client* client = FindClient(waiter.client_id);
      if (client == nullptr) continue;
      ++stats_.waits_woken;
      client->blocked = BlockKind::kNone;
      Attention(*client);
      if (waiter.kind == WaiterKind::kObserve) {
        client->writer().WriteInteger(1);
      } else {
        SubmitLockWait(*client, std::move(waiter.request), waiter.deadline_ms,
                       /*front_of_line=*/true, now);
      }
    }
  }
}

void Engine::Tick(Time now) {
  node_.Tick(now);
  Drain(now);
  while (!rechecks_.empty() && rechecks_.begin()->first <= now.mono_ms) {
    if (waiters_.HasAcquirers(rechecks_.begin()->second)) {
      MarkReady(rechecks_.begin()->second, /*freed=*/false);
    }
    rechecks_.erase(rechecks_.begin());
  }
  for (const Waiter& waiter : waiters_.TakeTimedOut(now.mono_ms)) {
    ForgetWait(waiter);
    Client* client = FindClient(waiter.client_id);
    if (client == nullptr) continue;
    ++stats_.waits_timed_out;
    if (waiter.kind == WaiterKind::kAcquire) ++stats_.locks_denied;
    client->blocked = BlockKind::kNone;
    Attention(*client);
    client->writer().WriteNull();
  }
}

std::optional<int64_t> Engine::NextWakeMs() const {
  std::optional<int64_t> next = node_.NextWakeMs();
  if (const auto deadline = waiters_.NextDeadlineMs(); deadline && (!next || *deadline < *next)) {
    next = deadline;
  }
  if (!rechecks_.empty() && (!next || rechecks_.begin()->first < *next)) {
    next = rechecks_.begin()->first;
  }
  return next;
}

void Engine::Attention(Client& client) {
  // The client running the current command is handled by its caller anyway.
  if (client.id() == executing_client_id_ || client.needs_attention) return;
  client.needs_attention = true;
  attention_.push_back(client.id());
}

std::vector<uint64_t> Engine::TakeAttention() {
  std::vector<uint64_t> ids;
  ids.swap(attention_);
  for (const uint64_t id : ids) {
    if (Client* client = FindClient(id)) client->needs_attention = false;
  }
  return ids;
}

void Engine::RequestKill(Client& client) {
  client.kill_requested = true;
  // Forget its wait now: the connection closes only at the end of the loop
  // turn, and a killed waiter must not be handed a lock in between.
  if (const auto waiter = waiters_.Remove(client.id())) ForgetWait(*waiter);
  client.blocked = BlockKind::kNone;
  Attention(client);
}

}  // namespace lockerd::server
