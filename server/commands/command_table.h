// The command table: for each command its name, arity, flags, key positions,
// documentation (for COMMAND INFO / COMMAND DOCS, which redis-cli reads for
// its hints) and handler. Lookup is case-insensitive; arity follows Redis's
// convention (n: exactly n arguments with the name; -n: at least n).
#pragma once

#include <span>
#include <string_view>

#include "server/engine/command_spec.h"

namespace lockerd::server {

// lockerd's commands, as the Engine runs them.
const CommandSet& LockerdCommands();

// The command named `name` (any case), or nullptr.
const CommandSpec* FindCommand(std::string_view name);
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
