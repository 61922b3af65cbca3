// MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis's semantics: commands
// between MULTI and EXEC are checked and queued (QUEUED); a rejected one
// makes EXEC answer EXECABORT and run nothing; EXEC runs the queue as one
// transaction through the majority, by the machinery that runs scripts
// (cluster/txn.h): promises on every key the queued and watched commands
// name, the commands in order on that snapshot, then their writes under
// those promises. EXEC answers null, running nothing, when a watched key's
// lease is not what it was at WATCH.
//
// A transaction that writes nothing runs on this member's table, as GET
// does. Commands that need more than the keys they name (KEYS, SCAN, INFO,
// CLIENT, EVAL ...) are not offered inside MULTI: they are rejected when
// queued (docs/SPEC.md, "Transactions").
#include <algorithm>
#include <memory>
#include <utility>

#include "base/ascii.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/engine/local_leases.h"
#include "server/engine/request_parse.h"
#include "server/commands/script_keys.h"
#include "server/script/script_reply.h"

namespace lockerd::server {
namespace {

using base::EqualsIgnoreCase;
using script::ScriptKeys;
using script::ScriptValue;
using Queue = std::vector<std::vector<std::string>>;

bool OfferedInMulti(const CommandSpec& spec) {
  for (const Handler handler :
       {CmdGet, CmdSet, CmdDel, CmdDelEx, CmdDelIfEq, CmdExists, CmdPttl, CmdTtl, CmdType,
        CmdLockInfo, CmdLock, CmdExtend, CmdRelease, CmdUpdate, CmdWait, CmdPing, CmdEcho, CmdTime,
        CmdSelect, CmdUnwatch}) {
    if (spec.handler == handler) return true;
  }
  return false;
}

// The keys a command names, by its key spec (COMMAND INFO's first, last, step).
std::vector<std::string_view> KeysOf(const CommandSpec& spec, std::span<const std::string> args) {
  std::vector<std::string_view> keys;
  if (spec.first_key <= 0) return keys;
  const int count = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? count + spec.last_key : std::min(spec.last_key, count - 1);
  for (int i = spec.first_key; i <= last; i += std::max(spec.key_step, 1)) keys.push_back(args[i]);
  return keys;
}

void AddDistinct(std::vector<std::string>& keys, std::string_view key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
}

// Every key the transaction touches: the queued commands' and the watched.
std::vector<std::string> TransactionKeys(const Transaction& txn) {
  std::vector<std::string> keys = txn.keys;
  for (const Transaction::Watched& watched : txn.watched) AddDistinct(keys, watched.key);
  return keys;
}

bool WritesAnything(const Queue& queued) {
  return std::any_of(queued.begin(), queued.end(), [](const std::vector<std::string>& args) {
    const CommandSpec* spec = FindCommand(args[0]);
    return spec != nullptr && (spec->flags & kFlagWrite) != 0;
  });
}

bool WatchedChanged(const std::vector<Transaction::Watched>& watched, const cluster::TxnView& view) {
  for (const Transaction::Watched& w : watched) {
    const auto at = std::find(view.keys.begin(), view.keys.end(), w.key) - view.keys.begin();
    const cluster::LeaseView& now = view.leases[static_cast<size_t>(at)];
    if (now.held != w.held || (now.held && (now.owner != w.owner || now.token != w.token))) return true;
  }
  return false;
}

// One queued command on the transaction's snapshot. What blocks elsewhere
// answers at once, as Redis's blocking commands do inside MULTI: WAIT as if
// its timeout passed, LOCK ... WAIT as a LOCK.
ScriptValue RunQueued(ScriptKeys& keys, std::span<const std::string> args, int64_t max_lease_ms) {
  const std::string& name = args[0];
  if (base::EqualsIgnoreCase(name, "echo")) return ScriptValue::Bulk(args[1]);
  if (base::EqualsIgnoreCase(name, "unwatch")) return ScriptValue::Status("OK");
  if (base::EqualsIgnoreCase(name, "wait")) {
    auto timeout = ParseWaitTimeout(args[2]);
    if (auto* error = std::get_if<std::string>(&timeout)) return ScriptValue::Error(*error);
    const std::string exists[] = {"exists", args[1]};
    return keys.Call(exists).integer == 1 ? ScriptValue::Null() : ScriptValue::Integer(0);
  }
  if (base::EqualsIgnoreCase(name, "lock") && args.size() != 4) {
    auto parsed = ParseLock(args, max_lease_ms);
    if (auto* error = std::get_if<std::string>(&parsed)) return ScriptValue::Error(*error);
    return keys.Call(args.first(4));
  }
  return keys.Call(args);
}

// The queue run in order on `view`: EXEC's reply in `reply`, the writes returned.
std::vector<cluster::TxnWrite> RunQueue(const Queue& queued, const std::vector<Transaction::Watched>& watched,
                                        const cluster::TxnView& view, script::ScriptKeysOptions options,
                                        ScriptValue* reply) {
  if (WatchedChanged(watched, view)) {
    *reply = ScriptValue::NullArray();
    return std::vector<cluster::TxnWrite>(view.keys.size());
  }
  ScriptKeys keys(view, options);
  std::vector<ScriptValue> replies;
  replies.reserve(queued.size());
  for (const std::vector<std::string>& args : queued) {
    replies.push_back(RunQueued(keys, args, options.max_lease_ms));
  }
  *reply = ScriptValue::Array(std::move(replies));
  return keys.Writes();
}

script::ScriptKeysOptions OptionsFor(const Engine& engine) {
  const Config& config = engine.config();
  const size_t held = engine.node().table().held_count();
  return {config.max_lease_ms, config.lease_drift, /*read_only=*/false,
          held < config.maxkeys ? config.maxkeys - held : 0, config.maxkeys, config.max_key_bytes};
}

void RunLocally(CommandContext& c, const Transaction& txn) {
  const std::vector<std::string> names = TransactionKeys(txn);
  const std::vector<cluster::LeaseView> leases = LocalLeases(c.engine, names, c.now);
  const cluster::TxnView view{names, leases, c.engine.node().acceptor().token_counter(), c.now.wall_ms};
  ScriptValue reply;
  RunQueue(txn.queued, txn.watched, view, OptionsFor(c.engine), &reply);
  script::WriteScriptValue(c.client.writer(), reply);
}

void RunThroughMajority(CommandContext& c, Transaction txn) {
  cluster::TxnRequest request;
  request.keys = TransactionKeys(txn);
  auto reply = std::make_shared<ScriptValue>();
  // The body may run more than once (a pre-empted read runs again on fresh
  // state); the last run is the one committed and answered.
  request.body = [engine = &c.engine, queued = std::move(txn.queued), watched = std::move(txn.watched),
                  reply](const cluster::TxnView& view) {
    return RunQueue(queued, watched, view, OptionsFor(*engine), reply.get());
  };
  c.engine.SubmitScript(c.client, std::move(request), std::move(reply), c.now);
}

}  // namespace

void RunAsTransaction(CommandContext& c) {
  const Config& config = c.engine.config();
  if (c.args[1].size() > config.max_key_bytes) {
    return c.engine.ReplyError(c.client, errors::KeyTooLong(config.max_key_bytes));
  }
  cluster::TxnRequest request;
  request.keys = {c.args[1]};
  auto reply = std::make_shared<ScriptValue>();
  request.body = [engine = &c.engine, args = std::vector<std::string>(c.args.begin(), c.args.end()),
                  reply](const cluster::TxnView& view) {
    ScriptKeys keys(view, OptionsFor(*engine));
    *reply = keys.Call(args);
    return keys.Writes();
  };
  c.engine.SubmitScript(c.client, std::move(request), std::move(reply), c.now);
}

void QueueInTransaction(Engine& engine, Client& client, const CommandSpec& spec,
                        std::span<const std::string> args) {
  Transaction& txn = *client.transaction;
  const auto reject = [&](std::string_view text) {
    txn.aborted = true;
    engine.ReplyError(client, text);
  };
  if (!OfferedInMulti(spec)) {
    return reject(errors::NotInMulti(spec.name));
  }
  const Config& config = engine.config();
  std::vector<std::string> keys = txn.keys;
  for (const std::string_view key : KeysOf(spec, args)) {
    if (key.size() > config.max_key_bytes) return reject(errors::KeyTooLong(config.max_key_bytes));
    AddDistinct(keys, key);
  }
  // What the queue holds in memory: each argument's bytes and string, and
  // each command's vector.
  size_t bytes = txn.queued_bytes + sizeof(std::vector<std::string>);
  for (const std::string& arg : args) bytes += arg.size() + sizeof(std::string);
  if (bytes > config.parser_limits.command_bytes_max) {
    txn.queued.clear();  // Nothing of it will run: free it now.
    txn.queued_bytes = 0;
    return reject(errors::QueuedTooBig(config.parser_limits.command_bytes_max));
  }
  size_t named = keys.size();
  for (const Transaction::Watched& watched : txn.watched) {
    named += std::find(keys.begin(), keys.end(), watched.key) == keys.end();
  }
  if (named > std::min(config.script_max_keys, cluster::kTxnKeysMax)) {
    return reject(errors::TransactionTooManyKeys(named, config.script_max_keys));
  }
  txn.keys = std::move(keys);
  txn.queued_bytes = bytes;
  txn.queued.emplace_back(args.begin(), args.end());
  txn.queued_writes = txn.queued_writes || (spec.flags & kFlagWrite) != 0;
  client.writer().WriteSimpleString("QUEUED");
}

void CmdMulti(CommandContext& c) {
  if (c.client.in_multi()) return c.engine.ReplyError(c.client, errors::kMultiNested);
  c.client.StartTransaction().state = Transaction::State::kQueuing;
  c.client.writer().WriteSimpleString("OK");
}

void CmdExec(CommandContext& c) {
  if (!c.client.in_multi()) return c.engine.ReplyError(c.client, errors::kExecWithoutMulti);
  // EXEC ends the transaction and every WATCH, whatever it answers.
  Transaction txn = std::move(*c.client.transaction);
  c.client.transaction.reset();
  if (txn.refused() || txn.aborted) return c.engine.ReplyError(c.client, errors::kExecAbort);
  if (!WritesAnything(txn.queued)) return RunLocally(c, txn);
  RunThroughMajority(c, std::move(txn));
}

void CmdDiscard(CommandContext& c) {
  if (!c.client.in_multi()) return c.engine.ReplyError(c.client, errors::kDiscardWithoutMulti);
  c.client.transaction.reset();  // Out of MULTI, and nothing watched.
  c.client.writer().WriteSimpleString("OK");
}

// WATCH key...: remembers each key's lease as this member sees it. Redis
// keeps a key's first WATCH until EXEC, DISCARD or UNWATCH; so does this.
void CmdWatch(CommandContext& c) {
  if (c.client.in_multi()) return c.engine.ReplyError(c.client, errors::kWatchInMulti);
  const Config& config = c.engine.config();
  Transaction& txn = c.client.StartTransaction();
  for (size_t i = 1; i < c.args.size(); ++i) {
    const std::string& key = c.args[i];
    if (key.size() > config.max_key_bytes) {
      return c.engine.ReplyError(c.client, errors::KeyTooLong(config.max_key_bytes));
    }
    const auto same = [&key](const Transaction::Watched& w) { return w.key == key; };
    if (std::any_of(txn.watched.begin(), txn.watched.end(), same)) continue;
    if (txn.watched.size() >= std::min(config.script_max_keys, cluster::kTxnKeysMax)) {
      return c.engine.ReplyError(c.client, errors::WatchTooManyKeys(config.script_max_keys));
    }
    Transaction::Watched watched{key, false, {}, 0};
    if (const cluster::Register* reg = c.engine.node().table().FindHeld(key, c.now.mono_ms)) {
      watched = {key, true, std::string(reg->owner.str()), reg->token};
    }
    txn.watched.push_back(std::move(watched));
  }
  c.client.writer().WriteSimpleString("OK");
}

void CmdUnwatch(CommandContext& c) {
  if (c.client.transaction != nullptr) c.client.transaction.reset();  // Not in MULTI: UNWATCH inside is queued.
  c.client.writer().WriteSimpleString("OK");
}

}  // namespace lockerd::server
