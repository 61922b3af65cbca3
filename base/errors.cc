#include "base/errors.h"

#include <algorithm>

#include "base/ascii.h"

namespace lockerd::server::errors {

std::string Echo(std::string_view client_bytes) {
  std::string out;
  const size_t n = std::min(client_bytes.size(), kEchoBytesMax);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char c = client_bytes[i];
    if (c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

std::string UnknownCommand(std::string_view name, std::span<const std::string> args) {
  // Redis: "ERR unknown command 'foo', with args beginning with: 'a' 'b' ".
  std::string text = "ERR unknown command '" + Echo(name) + "', with args beginning with: ";
  size_t echoed = 0;
  for (const std::string& arg : args) {
    if (echoed + arg.size() > kEchoBytesMax) break;
    text += "'" + Echo(arg) + "' ";
    echoed += arg.size();
  }
  return text;
}

std::string WrongArity(std::string_view name) {
  return "ERR wrong number of arguments for '" + Echo(base::ToLower(name)) + "' command";
}

std::string UnknownSubcommand(std::string_view subcommand, std::string_view command) {
  return "ERR unknown subcommand '" + Echo(subcommand) + "'. Try " + std::string(command) +
         " HELP.";
}

std::string KeyTooLong(size_t key_bytes_max) {
  return "ERR key or owner is longer than max-key-bytes (" + std::to_string(key_bytes_max) + ")";
}

std::string MaxKeys(size_t max_keys) {
  return "OOM command not allowed when the number of leases has reached maxkeys (" +
         std::to_string(max_keys) + ")";
}

std::string NoPermCommand(std::string_view user, std::string_view command) {
  return "NOPERM User " + Echo(user) + " has no permissions to run the '" + Echo(command) +
         "' command";
}

std::string TtlRange(int64_t max_lease_ms) {
  // Names the setting: a library's lock timeout above it is refused, and
  // the user must know what to raise.
  return "ERR ttl must be between 1 and " + std::to_string(max_lease_ms) + " (max-lease-ms)";
}

std::string ProtocolError(std::string_view parser_error) { return "ERR " + std::string(parser_error); }

std::string UnknownClientType(std::string_view type) {
  return "ERR Unknown client type '" + Echo(type) + "'";
}

std::string UnknownAclCategory(std::string_view category) {
  return "ERR Unknown category '" + Echo(category) + "'";
}

std::string UnsupportedOption(std::string_view option) { return "ERR Unsupported option " + Echo(option); }

std::string InvalidExpireTime(std::string_view command) {
  return "ERR invalid expire time in '" + Echo(command) + "' command";
}

std::string HelloOptionSyntax(std::string_view option) {
  return "ERR Syntax error in HELLO option '" + Echo(option) + "'";
}

std::string UnrecognizedOption(std::string_view option) {
  return "ERR Unrecognized option '" + Echo(option) + "'";
}

std::string ClientInfoInvalid(std::string_view attribute) {
  return "ERR " + Echo(attribute) + " cannot contain spaces, newlines or special characters.";
}

std::string PeerHandshakeRefused(std::string_view why) {
  return "ERR peer handshake refused: " + std::string(why);
}

std::string NotInMulti(std::string_view command) {
  return "ERR " + base::ToUpper(command) +
         " is not offered inside MULTI here: a transaction runs on the keys its commands name "
         "(GET, SET, DEL, EXISTS, PTTL, TTL, TYPE, the lock commands, PING, ECHO, TIME, SELECT)";
}

std::string QueuedTooBig(size_t queued_bytes_max) {
  return "ERR the queued commands hold more than client-query-buffer-limit (" +
         std::to_string(queued_bytes_max) + " bytes)";
}

std::string TransactionTooManyKeys(size_t keys_named, size_t script_max_keys) {
  return "ERR the transaction names " + std::to_string(keys_named) + " keys; script-max-keys is " +
         std::to_string(script_max_keys);
}

std::string WatchTooManyKeys(size_t script_max_keys) {
  return "ERR a connection may watch at most script-max-keys (" + std::to_string(script_max_keys) +
         ") keys";
}

std::string ScriptTooManyKeys(int64_t keys_declared, size_t script_max_keys) {
  return "ERR the script declares " + std::to_string(keys_declared) + " keys; script-max-keys is " +
         std::to_string(script_max_keys);
}

std::string ScriptUndeclaredKey(std::string_view key) {
  return "ERR script tried to access key '" + Echo(key) +
         "' that is not in its KEYS; scripts here run on their declared keys only";
}

std::string ScriptUnknownCommand(std::string_view command) {
  return "ERR Unknown Redis command called from script: '" + Echo(command) +
         "' (scripts here may call GET, MGET, STRLEN, GETRANGE, SUBSTR, SET, DEL, EXISTS, PEXPIRE, "
         "EXPIRE, PTTL, TTL, PEXPIRETIME, EXPIRETIME, TYPE, TIME, SELECT 0, PING and the lock "
         "commands)";
}

std::string AclFailureInScript(std::string_view noperm) {
  return "ERR ACL failure in script: " + std::string(noperm.substr(noperm.find(' ') + 1));
}

std::string ScriptTooLong(size_t body_bytes_max) {
  return "ERR script is longer than script-max-bytes (" + std::to_string(body_bytes_max) + " bytes)";
}

std::string ScriptCompile(std::string_view lua_message) {
  return "ERR Error compiling script (new function): " + std::string(lua_message);
}

std::string ScriptRuntime(std::string_view lua_message, std::string_view sha) {
  return "ERR " + std::string(lua_message) + " script: " + std::string(sha);
}

std::string ScriptTimedOut(int64_t time_limit_ms) {
  return "ERR script stopped: it ran longer than script-time-limit (" + std::to_string(time_limit_ms) +
         " ms); its writes were discarded";
}

std::string ScriptOutOfMemory(size_t memory_limit_bytes) {
  return "ERR script stopped: it used more than script-memory-limit (" +
         std::to_string(memory_limit_bytes) + " bytes); its writes were discarded";
}

std::string ExecRefused(std::string_view refusal) {
  if (refusal.rfind("ERR ", 0) == 0) refusal.remove_prefix(4);
  return "EXECABORT Transaction discarded because of: " + std::string(refusal);
}

std::string NoQuorum(std::string_view detail) { return "NOQUORUM " + std::string(detail); }

std::string TryAgain(std::string_view detail) { return "TRYAGAIN " + std::string(detail); }

std::string NotAMember(uint32_t member, uint64_t epoch) {
  return "ERR this member (id " + std::to_string(member) +
         ") is not in the cluster's configuration (epoch " + std::to_string(epoch) +
         "): connect to a member that MEMBERS lists, or add this one back with MEMBERS ADD";
}

std::string MisconfLog(std::string_view why) {
  return "MISCONF Errors writing to the AOF file: " + std::string(why);
}

}  // namespace lockerd::server::errors
