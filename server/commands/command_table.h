// The command table: for each command its name, arity, flags, key positions,
// documentation (for COMMAND INFO / COMMAND DOCS, which redis-cli reads for
// its hints) and handler. Lookup is case-insensitive; arity follows Redis's
// convention (n: exactly n arguments with the name; -n: at least n).
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
};

// A test of a command's arguments (CommandSpec::pipelined_if).
using ArgsTest = bool (*)(std::span<const std::string> args);

// One argument in COMMAND DOCS; `children` for "oneof" and "block" types.
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
};

// Whether `argc` arguments (the name included) fit the command's arity.
inline bool ArityAccepts(const CommandSpec& spec, size_t argc) {
  return spec.arity >= 0 ? argc == static_cast<size_t>(spec.arity)
                         : argc >= static_cast<size_t>(-spec.arity);
}

// The command named `name` (any case), or nullptr.
const CommandSpec* FindCommand(std::string_view name);
// The subcommand of `parent` named `name` (any case), or nullptr.
const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name);
std::span<const CommandSpec> AllCommands();
// The commands ACL rules can name: the table's (each subcommand too), then
// the commands scripts may call that the table does not hold (EXPIRE,
// PEXPIRE, UNLINK). Built once.
const AclCatalog& CommandAclCatalog();

// Writes COMMAND INFO's or COMMAND DOCS's entry for one command.
class Client;
void WriteCommandInfo(Client& client, const CommandSpec& spec);
// Writes the lines of a HELP subcommand (CLIENT HELP, CONFIG HELP ...).
void WriteHelpLines(Client& client, std::span<const std::string_view> lines);
void WriteCommandDocs(Client& client, const CommandSpec& spec);

}  // namespace lockerd::server
