// What a command is to the engine: its CommandSpec (name, arity, flags, ACL
// categories, key positions, documentation, handler) and the CommandSet an
// Engine runs. The engine knows no command by name: the set is given to it
// (server/commands/command_table.h builds lockerd's), and the few commands
// its dispatch treats apart say so in their spec (TxnRole, kFlagPeerLink).
// Arity follows Redis's convention (n: exactly n arguments with the name;
// -n: at least n); lookup is case-insensitive.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cluster/time.h"
#include "server/security/acl_categories.h"

namespace lockerd::server {

class Engine;
class Client;

struct CommandContext {
  Engine& engine;
  Client& client;
  std::span<const std::string> args;
  cluster::Time now;
};

using Handler = void (*)(CommandContext& context);

enum CommandFlag : uint32_t {
  kFlagWrite = 1u << 0,
  kFlagReadonly = 1u << 1,
  kFlagFast = 1u << 2,
  kFlagNoAuth = 1u << 3,    // Allowed before AUTH.
  kFlagBlocking = 1u << 4,
  kFlagAdmin = 1u << 5,
  kFlagStale = 1u << 6,
  kFlagLoading = 1u << 7,
  // May run while the client's earlier writes are in flight (engine.h,
  // PipelinedWrite): one round on one key, and rounds on one key keep their
  // order, so a pipeline of them behaves as if run one by one. Not a Redis
  // flag: COMMAND INFO does not show it.
  kFlagPipelined = 1u << 8,
  // The one command a peer link sends (PEER): a connection that must be a
  // peer's, or that holds a slot kept for peers, may send nothing else. Not
  // a Redis flag either.
  kFlagPeerLink = 1u << 9,
};

// What a command is to a transaction (MULTI ... EXEC), as the dispatch
// needs it (Engine::Execute).
enum class TxnRole : uint8_t {
  kQueued,   // Queued between MULTI and EXEC: nearly every command.
  kRunsNow,  // Runs at once even between MULTI and EXEC (WATCH, RESET, QUIT).
  kMulti,    // Starts one; refused, it refuses what follows up to EXEC.
  kExec,     // Ends one; refused (arity, ACL), it aborts the transaction.
  kDiscard,  // Ends one, whatever the ACL says.
};

// With kFlagPipelined: the calls that may pipeline, when not all may.
using ArgsTest = bool (*)(std::span<const std::string> args);

// One argument in COMMAND DOCS (redis-cli's hints).
struct ArgDoc {
  std::string_view name;
  std::string_view type;  // key, string, integer, pattern, pure-token, oneof, block
  std::string_view token = {};
  bool optional = false;
  bool multiple = false;
  std::span<const ArgDoc> children = {};
};

struct CommandSpec {
  std::string_view name;  // Lower case; "client|id" for a subcommand.
  int arity;
  uint32_t flags;
  // ACL categories (security/acl_categories.h): Redis's for its
  // equivalents, plus @lock for what takes, renews, hands over, frees or
  // reads locks (the SET NX / GET / DEL surface lock libraries use
  // included). Differences from Redis: SCRIPT FLUSH and SCRIPT KILL are
  // @admin too, since they reach every client's scripts. 0 for a container
  // that does not run alone (CLIENT): its subcommands carry theirs.
  uint32_t acl_categories;
  int first_key;
  int last_key;
  int key_step;
  std::string_view group;
  std::string_view summary;
  std::string_view since;
  std::span<const ArgDoc> args;
  Handler handler;
  std::span<const CommandSpec> subcommands = {};
  // With kFlagPipelined: the calls that may pipeline, when not all may
  // (LOCK: only without WAIT, which blocks). Null: every call.
  ArgsTest pipelined_if = nullptr;
  TxnRole txn_role = TxnRole::kQueued;
};

// Whether `argc` arguments (the name included) fit the spec's arity.
inline bool ArityAccepts(const CommandSpec& spec, size_t argc) {
  return spec.arity >= 0 ? argc == static_cast<size_t>(spec.arity)
                         : argc >= static_cast<size_t>(-spec.arity);
}

// Runs one command between MULTI and EXEC: queues it (QUEUED) or refuses it,
// which makes EXEC answer EXECABORT.
using QueueInTransactionFn = void (*)(Engine& engine, Client& client, const CommandSpec& spec,
                                      std::span<const std::string> args);

// The commands an Engine runs. Built once and kept for the process's life.
struct CommandSet {
  std::span<const CommandSpec> commands;  // Sorted by name.
  const AclCatalog* acl_catalog;          // Built from the same table.
  QueueInTransactionFn queue_in_transaction;
};

// The command named `name` in a sorted table, or null.
const CommandSpec* FindCommandIn(std::span<const CommandSpec> table, std::string_view name);
// A subcommand of `parent` ("client" + "id" finds "client|id"), or null.
const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name);

}  // namespace lockerd::server
