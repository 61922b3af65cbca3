// Server commands: COMMAND (enough for redis-cli's hints), INFO, CONFIG GET
// and TIME. Settings are fixed at startup, so CONFIG SET is refused with a
// message that says how to change them.
#include <iterator>

#include "base/ascii.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/config/config.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/commands/info.h"

namespace lockerd::server {
void CmdCommand(CommandContext& c) {
  const auto commands = AllCommands();
  c.client.writer().WriteArrayHeader(commands.size());
  for (const CommandSpec& spec : commands) WriteCommandInfo(c.client, spec);
}

void CmdCommandCount(CommandContext& c) {
  c.client.writer().WriteInteger(static_cast<int64_t>(AllCommands().size()));
}

void CmdCommandInfo(CommandContext& c) {
  if (c.args.size() == 2) return CmdCommand(c);
  c.client.writer().WriteArrayHeader(c.args.size() - 2);
  for (size_t i = 2; i < c.args.size(); ++i) {
    const CommandSpec* spec = FindCommand(c.args[i]);
    if (spec == nullptr) {
      c.client.writer().WriteNullArray();
    } else {
      WriteCommandInfo(c.client, *spec);
    }
  }
}

void CmdCommandDocs(CommandContext& c) {
  std::vector<const CommandSpec*> specs;
  if (c.args.size() == 2) {
    for (const CommandSpec& spec : AllCommands()) specs.push_back(&spec);
  } else {
    for (size_t i = 2; i < c.args.size(); ++i) {
      if (const CommandSpec* spec = FindCommand(c.args[i])) specs.push_back(spec);
    }
  }
  c.client.writer().WriteMapHeader(specs.size());
  for (const CommandSpec* spec : specs) {
    c.client.writer().WriteBulk(spec->name);
    WriteCommandDocs(c.client, *spec);
  }
}

void CmdCommandList(CommandContext& c) {
  if (c.args.size() > 2) return c.engine.ReplyError(c.client, errors::kSyntax);
  const auto commands = AllCommands();
  c.client.writer().WriteArrayHeader(commands.size());
  for (const CommandSpec& spec : commands) c.client.writer().WriteBulk(spec.name);
}

void CmdCommandHelp(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all commands.",
      "COUNT",
      "    Return the total number of commands.",
      "INFO [<command-name> ...]",
      "    Return details about the given commands, or all of them.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about the given commands, or all of them.",
      "LIST",
      "    Return a list of all commands.",
      "HELP",
      "    Print this help.",
  };
  WriteHelpLines(c.client, kLines);
}

void CmdInfo(CommandContext& c) {
  c.client.writer().WriteVerbatim("txt", BuildInfo(c.engine, c.args.subspan(1), c.now));
}

void CmdConfigGet(CommandContext& c) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 2; i < c.args.size(); ++i) {
    for (auto& pair : ConfigGet(c.engine.config(), c.args[i])) {
      const bool seen = std::any_of(pairs.begin(), pairs.end(),
                                    [&](const auto& p) { return p.first == pair.first; });
      if (!seen) pairs.push_back(std::move(pair));
    }
  }
  c.client.writer().WriteMapHeader(pairs.size());
  for (const auto& [name, value] : pairs) {
    c.client.writer().WriteBulk(name);
    c.client.writer().WriteBulk(value);
  }
}

void CmdConfigSet(CommandContext& c) { c.engine.ReplyError(c.client, errors::kConfigSet); }

void CmdConfigResetStat(CommandContext& c) {
  c.engine.stats() = EngineStats{};
  c.client.writer().WriteSimpleString("OK");
}

void CmdConfigHelp(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Not supported: restart lockerd with --name value or a config file.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "HELP",
      "    Print this help.",
  };
  WriteHelpLines(c.client, kLines);
}

void CmdTime(CommandContext& c) {
  c.client.writer().WriteArrayHeader(2);
  c.client.writer().WriteBulk(std::to_string(c.now.wall_ms / 1000));
  c.client.writer().WriteBulk(std::to_string((c.now.wall_ms % 1000) * 1000));
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], with Redis's syntax and
// replies. The server stops at the end of the loop turn, without a reply
// (the connection closes, as Redis's does). SAVE (the default here) saves
// every register and removes the running marker: the next start votes at
// once. NOSAVE leaves the marker: the next start quarantines, as after a
// crash. NOW and FORCE change nothing (there are no replicas to wait for,
// and a failed save already stops the process with the marker left). A
// shutdown is never in progress between loop turns, so ABORT always finds
// none.
void CmdShutdown(CommandContext& c) {
  bool save = false;
  bool nosave = false;
  bool other_flag = false;
  bool abort = false;
  for (size_t i = 1; i < c.args.size(); ++i) {
    const std::string& arg = c.args[i];
    if (base::EqualsIgnoreCase(arg, "nosave")) {
      nosave = true;
    } else if (base::EqualsIgnoreCase(arg, "save")) {
      save = true;
    } else if (base::EqualsIgnoreCase(arg, "now") || base::EqualsIgnoreCase(arg, "force")) {
      other_flag = true;
    } else if (base::EqualsIgnoreCase(arg, "abort")) {
      abort = true;
    } else {
      return c.engine.ReplyError(c.client, errors::kSyntax);
    }
  }
  if ((abort && (save || nosave || other_flag)) || (save && nosave)) {
    return c.engine.ReplyError(c.client, errors::kSyntax);
  }
  if (abort) return c.engine.ReplyError(c.client, errors::kNoShutdown);
  if (!c.engine.process().shutdown) return c.engine.ReplyError(c.client, errors::kShutdownFailed);
  c.engine.process().shutdown(!nosave);
  c.client.close_after_reply = true;
}

}  // namespace lockerd::server
