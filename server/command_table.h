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
};

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
  int first_key;
  int last_key;
  int key_step;
  std::string_view group;
  std::string_view summary;
  std::string_view since;
  std::span<const ArgDoc> args;
  Handler handler;
  std::span<const CommandSpec> subcommands = {};
};

// The command named `name` (any case), or nullptr.
const CommandSpec* FindCommand(std::string_view name);
// The subcommand of `parent` named `name` (any case), or nullptr.
const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name);
std::span<const CommandSpec> AllCommands();

// Writes COMMAND INFO's or COMMAND DOCS's entry for one command.
class Client;
void WriteCommandInfo(Client& client, const CommandSpec& spec);
// Writes the lines of a HELP subcommand (CLIENT HELP, CONFIG HELP ...).
void WriteHelpLines(Client& client, std::span<const std::string_view> lines);
void WriteCommandDocs(Client& client, const CommandSpec& spec);

}  // namespace lockerd::server
