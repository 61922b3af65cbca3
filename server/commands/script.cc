// EVAL, EVALSHA, their _RO forms and SCRIPT. A script with declared keys
// runs through the cluster as one transaction (cluster/txn.h): promises on
// every key at a majority, the script on that snapshot, then its writes
// committed under those promises. Read-only scripts, and scripts without
// keys, run on this member's table like the other reads.
#include <algorithm>
#include <memory>
#include <variant>
#include <vector>

#include "base/ascii.h"
#include "protocol/numbers.h"
#include "server/security/acl.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/engine/local_leases.h"
#include "server/commands/script_keys.h"
#include "server/script/script_reply.h"
#include "server/script/sha1.h"

namespace lockerd::server {
namespace {

using base::EqualsIgnoreCase;
using script::LuaRun;
using script::ScriptKeys;
using script::ScriptValue;

struct EvalArgs {
  std::vector<std::string> keys;
  std::vector<std::string> argv;
};

// script numkeys key... arg...
std::variant<EvalArgs, std::string> ParseEval(std::span<const std::string> args, size_t keys_max) {
  const auto count = protocol::ParseInt64(args[2]);
  if (!count) return std::string(errors::kNotInteger);
  if (*count < 0) return std::string(errors::kNumKeysNegative);
  if (static_cast<uint64_t>(*count) > args.size() - 3) {
    return std::string(errors::kNumKeysTooMany);
  }
  if (static_cast<uint64_t>(*count) > keys_max) {
    return errors::ScriptTooManyKeys(*count, keys_max);
  }
  const auto keys_end = args.begin() + 3 + *count;
  return EvalArgs{{args.begin() + 3, keys_end}, {keys_end, args.end()}};
}

// redis.call on behalf of the calling client's user: refused as Redis
// refuses it when the user may not run the command or touch its keys.
ScriptValue CallAsUser(const AclUser& user, ScriptKeys& keys, std::span<const std::string> args) {
  if (!user.unrestricted()) {
    std::string denied = AclCheckScriptCall(user, args);
    if (!denied.empty()) return ScriptValue::Error(std::move(denied));
  }
  return keys.Call(args);
}

std::vector<std::string> Distinct(const std::vector<std::string>& keys) {
  std::vector<std::string> distinct;
  for (const std::string& key : keys) {
    if (std::find(distinct.begin(), distinct.end(), key) == distinct.end()) distinct.push_back(key);
  }
  return distinct;
}

// Runs the script on this member's own table; its writes are not applied.
LuaRun RunOnLocalTable(CommandContext& c, const std::string& sha, const EvalArgs& eval,
                       const std::vector<std::string>& names, bool read_only, bool* writes) {
  Engine& engine = c.engine;
  const std::vector<cluster::LeaseView> leases = LocalLeases(engine, names, c.now);
  const cluster::TxnView view{names, leases, engine.node().acceptor().token_counter(), c.now.wall_ms};
  ScriptKeys keys(view, {engine.config().max_lease_ms, engine.config().lease_drift, read_only});
  const AclUser& user = engine.UserOf(c.client);
  LuaRun run = engine.lua().Run(
      sha, eval.keys, eval.argv,
      [&keys, &user](std::span<const std::string> args) { return CallAsUser(user, keys, args); });
  const std::vector<cluster::TxnWrite> planned = keys.Writes();
  *writes = std::any_of(planned.begin(), planned.end(), [](const cluster::TxnWrite& w) { return w.write; });
  return run;
}

void RunScript(CommandContext& c, const std::string& sha, bool read_only) {
  Engine& engine = c.engine;
  const Config& config = engine.config();
  auto parsed = ParseEval(c.args, config.script_max_keys);
  if (auto* error = std::get_if<std::string>(&parsed)) return engine.ReplyError(c.client, *error);
  EvalArgs& eval = std::get<EvalArgs>(parsed);
  std::vector<std::string> names = Distinct(eval.keys);
  bool writes = false;
  if (read_only || eval.keys.empty()) {
    // Reads of this member, like GET (and without keys nothing can be written).
    const LuaRun run = RunOnLocalTable(c, sha, eval, names, read_only, &writes);
    return script::WriteScriptValue(c.client.writer(), run.reply);
  }
  for (const std::string& key : eval.keys) {
    if (key.size() > config.max_key_bytes) {
      return engine.ReplyError(c.client, errors::KeyTooLong(config.max_key_bytes));
    }
  }
  cluster::TxnRequest request;
  if (names.size() == 1 && engine.members_count() > 1) {
    // A dry run here says whether the script will likely only read (a
    // try-lock script finding the key held): then the round peeks first.
    RunOnLocalTable(c, sha, eval, names, false, &writes);
    request.peek_first = !writes;
  }
  request.keys = std::move(names);
  auto reply = std::make_shared<ScriptValue>();
  // The body runs once a majority has promised every key (maybe again
  // after a pre-empted read); the last run is the one committed.
  request.body = [lua = &engine.lua(), table = &engine.node().table(), sha, body = engine.lua().Body(sha),
                  eval = std::move(eval),
                  user = c.client.user ? c.client.user : engine.acl().default_user(),
                  options = script::ScriptKeysOptions{config.max_lease_ms, config.lease_drift, false,
                                                      SIZE_MAX, config.maxkeys, config.max_key_bytes},
                  reply](const cluster::TxnView& view) mutable {
    if (!lua->Exists(sha)) lua->Load(*body);  // Evicted or flushed while it waited.
    const size_t held = table->held_count();
    options.new_keys_allowed = held < options.maxkeys ? options.maxkeys - held : 0;
    ScriptKeys keys(view, options);
    LuaRun run = lua->Run(
        sha, eval.keys, eval.argv,
        [&keys, &user](std::span<const std::string> args) { return CallAsUser(*user, keys, args); });
    *reply = std::move(run.reply);
    if (!run.keep_writes) return std::vector<cluster::TxnWrite>(view.keys.size());
    return keys.Writes();
  };
  engine.SubmitScript(c.client, std::move(request), std::move(reply), c.now);
}

void Eval(CommandContext& c, bool read_only) {
  auto loaded = c.engine.lua().Load(c.args[1]);
  if (loaded.index() == 1) return c.engine.ReplyError(c.client, std::get<1>(loaded));
  RunScript(c, std::get<0>(loaded), read_only);
}

void EvalSha(CommandContext& c, bool read_only) {
  if (!c.engine.lua().Exists(c.args[1])) return c.engine.ReplyError(c.client, errors::kNoScript);
  RunScript(c, c.args[1], read_only);
}

}  // namespace

void CmdEval(CommandContext& c) { Eval(c, false); }
void CmdEvalRo(CommandContext& c) { Eval(c, true); }
void CmdEvalSha(CommandContext& c) { EvalSha(c, false); }
void CmdEvalShaRo(CommandContext& c) { EvalSha(c, true); }

void CmdScriptLoad(CommandContext& c) {
  auto loaded = c.engine.lua().Load(c.args[2]);
  if (loaded.index() == 1) return c.engine.ReplyError(c.client, std::get<1>(loaded));
  c.client.writer().WriteBulk(std::get<0>(loaded));
}

void CmdScriptExists(CommandContext& c) {
  protocol::RespWriter& writer = c.client.writer();
  writer.WriteArrayHeader(c.args.size() - 2);
  for (size_t i = 2; i < c.args.size(); ++i) writer.WriteInteger(c.engine.lua().Exists(c.args[i]) ? 1 : 0);
}

void CmdScriptFlush(CommandContext& c) {
  if (c.args.size() > 3 ||
      (c.args.size() == 3 && !base::EqualsIgnoreCase(c.args[2], "ASYNC") && !base::EqualsIgnoreCase(c.args[2], "SYNC"))) {
    return c.engine.ReplyError(c.client, errors::kScriptFlushOption);
  }
  c.engine.lua().Flush();
  c.client.writer().WriteSimpleString("OK");
}

void CmdScriptKill(CommandContext& c) {
  // A script never outlives the command that runs it: script-time-limit
  // stops it first.
  c.engine.ReplyError(c.client, errors::kNotBusy);
}

void CmdScriptHelp(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script (scripts here stop at script-time-limit).",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Print this help.",
  };
  WriteHelpLines(c.client, kLines);
}

}  // namespace lockerd::server
