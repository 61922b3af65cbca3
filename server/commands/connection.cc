// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and
// CLIENT. Texts and reply shapes follow Redis, since client libraries send
// these at connect time and match on the answers.
#include <algorithm>
#include <string>

#include "protocol/numbers.h"
#include "server/security/acl.h"
#include "server/engine/client.h"
#include "server/engine/client_describe.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/config/limits.h"
#include "server/engine/request_parse.h"
#include "server/security/sha256.h"
#include "server/config/version.h"

namespace lockerd::server {
namespace {

// Redis's rule for client names and library info: printable, no spaces;
// and ours: short, since CLIENT LIST repeats them.
bool ValidClientText(std::string_view text) {
  return text.size() <= kClientNameBytesMax &&
         std::all_of(text.begin(), text.end(), [](char ch) { return ch > ' ' && ch <= '~'; });
}

// The user `name` if it is on and `password` is one of its passwords (any,
// for a nopass user); else null, and the caller answers WRONGPASS without
// saying which part was wrong.
std::shared_ptr<const AclUser> CheckPassword(Engine& engine, std::string_view name,
                                             std::string_view password) {
  std::shared_ptr<const AclUser> user = engine.acl().Find(name);
  if (user == nullptr) {
    // Hash anyway, so an unknown user takes as long as a wrong password.
    Sha256Hex(password);
  } else if (user->Authenticates(password)) {
    return user;
  }
  ++engine.stats().acl_denied_auth;
  return nullptr;
}

}  // namespace

void CmdPing(CommandContext& c) {
  if (c.args.size() > 2) return c.engine.ReplyError(c.client, errors::WrongArity("ping"));
  if (c.args.size() == 2) return c.client.writer().WriteBulk(c.args[1]);
  c.client.writer().WriteSimpleString("PONG");
}

void CmdEcho(CommandContext& c) { c.client.writer().WriteBulk(c.args[1]); }

void CmdQuit(CommandContext& c) {
  c.client.writer().WriteSimpleString("OK");
  c.client.close_after_reply = true;
}

void CmdReset(CommandContext& c) {
  c.client.writer().set_version(protocol::RespVersion::kResp2);
  c.client.info.name.clear();
  c.client.transaction.reset();  // Out of MULTI, nothing watched.
  c.engine.SetDefaultUser(c.client);
  c.client.writer().WriteSimpleString("RESET");
}

void CmdAuth(CommandContext& c) {
  if (c.args.size() > 3) return c.engine.ReplyError(c.client, errors::kSyntax);
  // Redis answers the old one-argument form so when the default user has
  // no password, as before ACLs.
  if (c.args.size() == 2 && c.engine.acl().default_user()->nopass()) {
    return c.engine.ReplyError(c.client, errors::kAuthNotConfigured);
  }
  const std::string_view name = c.args.size() == 3 ? std::string_view(c.args[1]) : "default";
  std::shared_ptr<const AclUser> user = CheckPassword(c.engine, name, c.args.back());
  if (user == nullptr) return c.engine.ReplyError(c.client, errors::kWrongPass);
  c.engine.SetUser(c.client, std::move(user));
  c.client.writer().WriteSimpleString("OK");
}

void CmdHello(CommandContext& c) {
  protocol::RespVersion version = c.client.writer().version();
  if (c.args.size() >= 2) {
    const auto requested = protocol::ParseInt64(c.args[1]);
    if (!requested) {
      return c.engine.ReplyError(c.client, errors::kProtoVersionNotInteger);
    }
    if (*requested != 2 && *requested != 3) return c.engine.ReplyError(c.client, errors::kNoProto);
    version = *requested == 3 ? protocol::RespVersion::kResp3 : protocol::RespVersion::kResp2;
  }
  bool authenticate = false;
  std::string_view user;
  std::string_view password;
  std::string_view name;
  bool set_name = false;
  for (size_t i = 2; i < c.args.size(); ++i) {
    const size_t left = c.args.size() - i - 1;
    if (base::EqualsIgnoreCase(c.args[i], "AUTH") && left >= 2) {
      authenticate = true;
      user = c.args[i + 1];
      password = c.args[i + 2];
      i += 2;
    } else if (base::EqualsIgnoreCase(c.args[i], "SETNAME") && left >= 1) {
      set_name = true;
      name = c.args[i + 1];
      i += 1;
    } else {
      return c.engine.ReplyError(c.client, errors::HelloOptionSyntax(c.args[i]));
    }
  }
  if (authenticate) {
    std::shared_ptr<const AclUser> checked = CheckPassword(c.engine, user, password);
    if (checked == nullptr) return c.engine.ReplyError(c.client, errors::kWrongPass);
    c.engine.SetUser(c.client, std::move(checked));
  }
  if (!c.client.authenticated) return c.engine.ReplyError(c.client, errors::kHelloNoAuth);
  if (set_name && !ValidClientText(name)) return c.engine.ReplyError(c.client, errors::kClientName);
  if (set_name) c.client.info.name = name;
  protocol::RespWriter& writer = c.client.writer();
  writer.set_version(version);
  writer.WriteMapHeader(7);
  writer.WriteBulk("server");
  writer.WriteBulk("lockerd");
  writer.WriteBulk("version");
  writer.WriteBulk(kRedisCompatVersion);
  writer.WriteBulk("proto");
  writer.WriteInteger(static_cast<int64_t>(version));
  writer.WriteBulk("id");
  writer.WriteInteger(static_cast<int64_t>(c.client.id()));
  writer.WriteBulk("mode");
  writer.WriteBulk("standalone");
  writer.WriteBulk("role");
  writer.WriteBulk("master");
  writer.WriteBulk("modules");
  writer.WriteArrayHeader(0);
}

void CmdSelect(CommandContext& c) {
  const auto index = protocol::ParseInt64(c.args[1]);
  if (!index) return c.engine.ReplyError(c.client, errors::kNotInteger);
  if (*index != 0) return c.engine.ReplyError(c.client, errors::kDbIndex);
  c.client.writer().WriteSimpleString("OK");
}

void CmdClientId(CommandContext& c) {
  c.client.writer().WriteInteger(static_cast<int64_t>(c.client.id()));
}

void CmdClientSetName(CommandContext& c) {
  if (!ValidClientText(c.args[2])) {
    return c.engine.ReplyError(c.client, errors::kClientName);
  }
  c.client.info.name = c.args[2];
  c.client.writer().WriteSimpleString("OK");
}

void CmdClientGetName(CommandContext& c) {
  if (c.client.info.name.empty()) return c.client.writer().WriteNull();
  c.client.writer().WriteBulk(c.client.info.name);
}

void CmdClientSetInfo(CommandContext& c) {
  const std::string& attribute = c.args[2];
  const std::string& value = c.args[3];
  std::string* field = nullptr;
  if (base::EqualsIgnoreCase(attribute, "lib-name")) {
    field = &c.client.info.lib_name;
  } else if (base::EqualsIgnoreCase(attribute, "lib-ver")) {
    field = &c.client.info.lib_version;
  } else {
    return c.engine.ReplyError(c.client, errors::UnrecognizedOption(attribute));
  }
  if (!ValidClientText(value)) {
    return c.engine.ReplyError(c.client, errors::ClientInfoInvalid(attribute));
  }
  *field = value;
  c.client.writer().WriteSimpleString("OK");
}

void CmdClientInfo(CommandContext& c) {
  c.client.writer().WriteVerbatim("txt", DescribeClient(c.client, c.now) + "\n");
}

void CmdClientList(CommandContext& c) {
  // CLIENT LIST [TYPE normal] [ID id ...]
  std::vector<uint64_t> ids;
  bool only_ids = false;
  bool none = false;
  for (size_t i = 2; i < c.args.size(); ++i) {
    if (base::EqualsIgnoreCase(c.args[i], "TYPE") && i + 1 < c.args.size()) {
      const std::string& type = c.args[++i];
      if (base::EqualsIgnoreCase(type, "normal")) continue;
      if (base::EqualsIgnoreCase(type, "master") || base::EqualsIgnoreCase(type, "replica") ||
          base::EqualsIgnoreCase(type, "pubsub") || base::EqualsIgnoreCase(type, "slave")) {
        none = true;
        continue;
      }
      return c.engine.ReplyError(c.client, errors::UnknownClientType(type));
    }
    if (base::EqualsIgnoreCase(c.args[i], "ID") && i + 1 < c.args.size()) {
      only_ids = true;
      for (++i; i < c.args.size(); ++i) {
        const auto id = protocol::ParseInt64(c.args[i]);
        if (!id || *id <= 0) return c.engine.ReplyError(c.client, errors::kInvalidClientId);
        ids.push_back(static_cast<uint64_t>(*id));
      }
      break;
    }
    return c.engine.ReplyError(c.client, errors::kSyntax);
  }
  std::string text;
  if (!none) {
    for (const auto& [id, client] : c.engine.clients()) {
      if (only_ids && std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
      text += DescribeClient(*client, c.now);
      text += '\n';
    }
  }
  c.client.writer().WriteVerbatim("txt", text);
}

void CmdClientKill(CommandContext& c) {
  // Old form: CLIENT KILL addr:port -> +OK or an error.
  if (c.args.size() == 3) {
    for (const auto& [id, client] : c.engine.clients()) {
      if (client->peer_address() != c.args[2] || client->kill_requested) continue;
      if (client == &c.client) {
        c.client.close_after_reply = true;
      } else {
        c.engine.RequestKill(*client);
      }
      return c.client.writer().WriteSimpleString("OK");
    }
    return c.engine.ReplyError(c.client, errors::kNoSuchClient);
  }
  // New form: CLIENT KILL <filter> <value> ... -> number killed.
  KillFilter filter;
  for (size_t i = 2; i < c.args.size(); i += 2) {
    if (i + 1 >= c.args.size()) return c.engine.ReplyError(c.client, errors::kSyntax);
    std::string error = filter.Add(c.args[i], c.args[i + 1]);
    if (!error.empty()) return c.engine.ReplyError(c.client, error);
  }
  int64_t killed = 0;
  for (const auto& [id, client] : c.engine.clients()) {
    if (client->kill_requested || !filter.Matches(*client, c.client, c.now)) continue;
    ++killed;
    if (client == &c.client) {
      c.client.close_after_reply = true;
    } else {
      c.engine.RequestKill(*client);
    }
  }
  c.client.writer().WriteInteger(killed);
}

void CmdClientNoop(CommandContext& c) { c.client.writer().WriteSimpleString("OK"); }

void CmdClientHelp(CommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "LIST [TYPE normal] [ID <id> [<id> ...]]",
      "    Return information about client connections.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
      "    USER <username>, MAXAGE <seconds>, SKIPME (YES|NO).",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "GETNAME",
      "    Return the name of the current connection.",
      "SETINFO <option> <value>",
      "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
      "HELP",
      "    Print this help.",
  };
  WriteHelpLines(c.client, kLines);
}

}  // namespace lockerd::server
