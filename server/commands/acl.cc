// ACL: WHOAMI, LIST, USERS, CAT and HELP, with Redis's reply shapes. Users
// are defined in the config and fixed at startup, so SETUSER and DELUSER
// answer an error that says where users are defined.
#include <string>

#include "server/security/acl.h"
#include "server/engine/client.h"
#include "server/commands/command_table.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"

namespace lockerd::server {

void CmdAclWhoAmI(CommandContext& c) {
  c.client.writer().WriteBulk(c.engine.UserOf(c.client).name());
}

void CmdAclList(CommandContext& c) {
  const auto users = c.engine.acl().Sorted();
  c.client.writer().WriteArrayHeader(users.size());
  for (const auto& user : users) c.client.writer().WriteBulk(user->Describe());
}

void CmdAclUsers(CommandContext& c) {
  const auto users = c.engine.acl().Sorted();
  c.client.writer().WriteArrayHeader(users.size());
  for (const auto& user : users) c.client.writer().WriteBulk(user->name());
}

// ACL CAT: the categories; ACL CAT <category>: its commands.
void CmdAclCat(CommandContext& c) {
  protocol::RespWriter& writer = c.client.writer();
  if (c.args.size() == 2) {
    const auto names = AclCategoryNames();
    writer.WriteArrayHeader(names.size());
    for (const std::string_view name : names) writer.WriteBulk(name);
    return;
  }
  const auto category = FindAclCategory(c.args[2]);
  if (!category) {
    return c.engine.ReplyError(c.client, errors::UnknownAclCategory(c.args[2]));
  }
  size_t count = 0;
  for (const AclCommand& command : CommandAclCatalog().commands()) count += (command.categories & *category) != 0;
  writer.WriteArrayHeader(count);
  for (const AclCommand& command : CommandAclCatalog().commands()) {
    if (command.categories & *category) writer.WriteBulk(command.name);
  }
}

void CmdAclSetUser(CommandContext& c) { c.engine.ReplyError(c.client, errors::kAclSetUser); }

void CmdAclHelp(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CAT [<category>]",
      "    List all commands that belong to <category>, or all command categories",
      "    when no category is specified.",
      "LIST",
      "    Show users details in config file format.",
      "USERS",
      "    List all the registered usernames.",
      "WHOAMI",
      "    Return the current connection username.",
      "SETUSER, DELUSER",
      "    Not supported: users are defined by `user` lines in the config file.",
      "HELP",
      "    Print this help.",
  };
  WriteHelpLines(c.client, kLines);
}

}  // namespace lockerd::server
