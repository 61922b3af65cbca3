#include "server/engine/engine.h"

#include <algorithm>
#include <utility>

#include "base/check.h"
#include "base/ascii.h"
#include "base/errors.h"
#include "server/config/limits.h"
#include "server/script/script_reply.h"

namespace lockerd::server {
namespace {

cluster::NodeOptions NodeOptionsOf(const Config& config, uint64_t seed) {
  cluster::NodeOptions options;
  options.seed = seed;
  options.membership = cluster::Membership::Initial(std::max<size_t>(1, config.cluster.size()));
  options.self = static_cast<cluster::MemberId>(config.self_index);
  options.max_lease_ms = config.max_lease_ms;
  options.drift = config.lease_drift;
  options.round_timeout_ms = config.round_timeout_ms;
  // This run's incarnation: from the (random) seed, in 1..2^63-1.
  options.incarnation = ((seed * 0x9E3779B97F4A7C15ull) >> 1) | 1;
  using First = cluster::NodeOptions::FirstConfiguration;
  if (config.initial_cluster_state == "new") options.first_configuration = First::kAlsoWithAMemberMissing;
  if (config.initial_cluster_state == "existing") options.first_configuration = First::kNever;
  options.broken = config.broken_rules;
  return options;
}

}  // namespace

Engine::Engine(const CommandSet& commands, Config config, Time now, uint64_t seed)
    : commands_(commands),
      config_(std::move(config)),
      acl_(config_.users, config_.requirepass, *commands_.acl_catalog),
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
  ++client.activity.commands_count;
  client.activity.last_interaction_ms = now.mono_ms;
  // Answers that do not wait for a round still answer in command order:
  // behind the replies of writes in flight, not ahead of them.
  const auto answer_now = [&client](const auto& write) { client.replies().AnswerNow(write); };
  const auto refuse = [&](std::string_view text) { answer_now([&] { ReplyError(client, text); }); };
  // A command refused between MULTI and EXEC makes EXEC answer EXECABORT,
  // as in Redis. A MULTI refused itself (for its arguments, or by ACL)
  // refuses what follows up to EXEC or DISCARD (Redis would run it; a client
  // told "error" must not hold a lock): commands_transaction.cc.
  const CommandSpec* spec = FindCommandIn(commands_.commands, args[0]);
  const auto reject = [&](std::string_view text) {
    if (client.in_multi()) {
      if (client.transaction->queuing() && spec != nullptr && spec->txn_role == TxnRole::kExec) {
        // An EXEC refused (arity, ACL) ends the transaction, as Redis's does.
        client.transaction.reset();
        return refuse(errors::ExecRefused(text));
      }
      if (client.transaction->queuing()) client.transaction->aborted = true;
    } else if (spec != nullptr && spec->txn_role == TxnRole::kMulti && client.authenticated) {
      client.StartTransaction().state = Transaction::State::kRefused;
    }
    refuse(text);
  };
  if (spec == nullptr) {
    client.activity.last_command = "unknown";
    return reject(errors::UnknownCommand(args[0], args.subspan(1)));
  }
  if (!spec->subcommands.empty() && args.size() >= 2) {
    const CommandSpec* sub = FindSubcommand(*spec, args[1]);
    if (sub == nullptr) {
      client.activity.last_command = spec->name;
      return reject(errors::UnknownSubcommand(args[1], base::ToUpper(spec->name)));
    }
    spec = sub;
  }
  client.activity.last_command = spec->name;
  if (!ArityAccepts(*spec, args.size())) return reject(errors::WrongArity(spec->name));
  if (client.peer.reserved && !(spec->flags & kFlagPeerLink)) {
    client.close_after_reply = true;
    return refuse(errors::kMaxClients);
  }
  if (client.peer.only && !(spec->flags & kFlagPeerLink)) {
    client.close_after_reply = true;
    return refuse(std::string(client.peer.member >= 0 ? errors::kPeerLinkOnly : errors::kProtected));
  }
  if (!client.authenticated && !(spec->flags & kFlagNoAuth)) {
    return reject(errors::kNoAuth);
  }
  // DISCARD ends a MULTI whatever the ACL, and so does EXEC a refused one:
  // a user whose ACL refused MULTI (and so maybe EXEC) must still be able to
  // end it. An EXEC the ACL refuses in a transaction aborts it (reject).
  const bool in_refused_multi = client.in_multi() && client.transaction->refused();
  const bool ends_multi = client.in_multi() && (spec->txn_role == TxnRole::kDiscard ||
                                                (spec->txn_role == TxnRole::kExec && in_refused_multi));
  if (const AclUser& user = UserOf(client); !user.unrestricted() && !ends_multi) {
    if (const auto command = commands_.acl_catalog->Find(spec->name)) {
      const std::string denied = AclCheck(user, *command, args);
      if (!denied.empty()) {
        ++(denied == errors::kNoPermKey ? stats_.acl_denied_key : stats_.acl_denied_cmd);
        return reject(denied);
      }
    }
  }
  if (!cannot_persist_.empty() && !ends_multi && RefusedWhileNotDurable(*spec, client, args)) {
    return reject(errors::MisconfLog(cannot_persist_));
  }
  if ((spec->flags & (kFlagWrite | kFlagReadonly)) != 0 && !ends_multi) {
    // Removed from the configuration, this member hears no chosen values:
    // its reads would lag for good (a write would still be safe, but its
    // client would read it back from nowhere).
    const cluster::Membership& configuration = node_.membership();
    if (configuration.epoch != 0 && !configuration.IsMember(self())) {
      return reject(errors::NotAMember(self(), configuration.epoch));
    }
  }
  if (client.in_multi() && !RunsInsideMulti(*spec)) {
    if (in_refused_multi) return refuse(errors::kQueuedRefused);
    return answer_now([&] { commands_.queue_in_transaction(*this, client, *spec, args); });
  }
  const bool pipelined = PipelinedWrite(*spec, args);
  if (client.pipeline.writes_in_flight > 0 && !pipelined) {
    // It may read what the writes before it change: it runs after them.
    client.pipeline.deferred.assign(args.begin(), args.end());
    client.blocked = BlockKind::kWrites;
    return;
  }
  // Earlier writes still in flight: this reply queues behind theirs.
  client.replies().BeginCommand(pipelined);
  executing_client_id_ = client.id();
  CommandContext context{*this, client, args, now};
  spec->handler(context);
  executing_client_id_ = 0;
  client.replies().EndCommand();
}

void Engine::RunDeferred(Client& client, Time now) {
  if (client.pipeline.deferred.empty() || client.blocked != BlockKind::kNone) return;
  std::vector<std::string> args;
  args.swap(client.pipeline.deferred);
  // Execute counts it (it was only parked).
  --stats_.commands_processed;
  --client.activity.commands_count;
  Execute(client, args, now);
}

// Redis's rule while it cannot persist: write commands, PING (so that a
// health check sees it) and an EXEC with writes queued are refused. Then
// lockerd's: reads of a key whose state is not durable (SetCannotPersist).
bool Engine::RefusedWhileNotDurable(const CommandSpec& spec, const Client& client,
                                    std::span<const std::string> args) const {
  if (spec.flags & kFlagWrite) return true;
  if (spec.name == "ping") return true;
  const auto not_durable = [&](const std::string& key) { return not_durable_keys_.contains(key); };
  if (spec.txn_role == TxnRole::kExec) {
    if (!client.in_multi()) return false;
    const Transaction& txn = *client.transaction;
    return txn.queued_writes || std::any_of(txn.keys.begin(), txn.keys.end(), not_durable);
  }
  if ((spec.flags & kFlagReadonly) == 0 || not_durable_keys_.empty()) return false;
  if (spec.first_key <= 0 || spec.key_step <= 0) return true;  // KEYS, SCAN, DBSIZE: every key.
  const auto argc = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : std::min(spec.last_key, argc - 1);
  for (int i = spec.first_key; i <= last; i += spec.key_step) {
    if (not_durable(args[static_cast<size_t>(i)])) return true;
  }
  return false;
}

// What runs at once between MULTI and EXEC rather than being queued (as in
// Redis): the transaction's own commands, and the connection's RESET and
// QUIT. WATCH runs to answer that it may not.
bool Engine::RunsInsideMulti(const CommandSpec& spec) { return spec.txn_role != TxnRole::kQueued; }

// Writes that may run while the client's earlier writes are in flight: each
// is one round on one key, and rounds on one key keep their order (the
// coordinator queues them), so a pipeline of them behaves as if run one by
// one. The command table says which (kFlagPipelined): LOCK without WAIT,
// EXTEND, RELEASE and UPDATE. LOCK ... WAIT, DEL and everything else wait
// for them instead.
bool Engine::PipelinedWrite(const CommandSpec& spec, std::span<const std::string> args) {
  if ((spec.flags & kFlagPipelined) == 0) return false;
  return spec.pipelined_if == nullptr || spec.pipelined_if(args);
}

}  // namespace lockerd::server
