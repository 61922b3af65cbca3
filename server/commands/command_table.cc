#include "server/commands/command_table.h"

#include <vector>

#include <algorithm>
#include <bit>

#include "base/ascii.h"
#include "server/security/acl_categories.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/request_parse.h"

namespace lockerd::server {
namespace {

// ACL categories, short, for the table below.
constexpr uint32_t kKs = kAclKeyspace;
constexpr uint32_t kRd = kAclRead;
constexpr uint32_t kWr = kAclWrite;
constexpr uint32_t kStr = kAclString;
constexpr uint32_t kFa = kAclFast;
constexpr uint32_t kSl = kAclSlow;
constexpr uint32_t kAd = kAclAdmin | kAclDangerous;  // Redis's admin commands are all dangerous.
constexpr uint32_t kDa = kAclDangerous;
constexpr uint32_t kCo = kAclConnection;
constexpr uint32_t kSc = kAclScripting;
constexpr uint32_t kBl = kAclBlocking;
constexpr uint32_t kLk = kAclLock;
constexpr uint32_t kTx = kAclTransaction;



constexpr uint32_t kW = kFlagWrite;
constexpr uint32_t kR = kFlagReadonly;
constexpr uint32_t kF = kFlagFast;
constexpr uint32_t kN = kFlagNoAuth;
constexpr uint32_t kB = kFlagBlocking;
constexpr uint32_t kA = kFlagAdmin;
constexpr uint32_t kL = kFlagLoading | kFlagStale;
constexpr uint32_t kP = kFlagPipelined;
constexpr uint32_t kPl = kFlagPeerLink;

// LOCK key owner ttl pipelines; LOCK ... WAIT timeout blocks instead.
bool LockWithoutWait(std::span<const std::string> args) { return args.size() == 4; }

// Argument documentation, read by redis-cli for its hints.
constexpr ArgDoc kKey{"key", "key"};
constexpr ArgDoc kKeys[] = {{"key", "key", {}, false, true}};
constexpr ArgDoc kOnlyKey[] = {kKey};
constexpr ArgDoc kLockArgs[] = {kKey,
                                {"owner", "string"},
                                {"ttl", "integer"},
                                {"timeout", "integer", "WAIT", true}};
constexpr ArgDoc kExtendArgs[] = {kKey, {"owner", "string"}, {"ttl", "integer"}};
constexpr ArgDoc kReleaseArgs[] = {kKey, {"owner", "string"}};
constexpr ArgDoc kWaitArgs[] = {kKey, {"timeout", "integer"}};
constexpr ArgDoc kUpdateArgs[] = {kKey, {"owner", "string"}, {"newowner", "string"}};
constexpr ArgDoc kSetExpiration[] = {{"seconds", "integer", "EX"},
                                     {"milliseconds", "integer", "PX"}};
constexpr ArgDoc kSetArgs[] = {kKey,
                               {"owner", "string"},
                               {"nx", "pure-token", "NX"},
                               {"expiration", "oneof", {}, false, false, kSetExpiration}};
constexpr ArgDoc kEvalArgs[] = {{"script", "string"},
                                {"numkeys", "integer"},
                                {"key", "key", {}, true, true},
                                {"arg", "string", {}, true, true}};
constexpr ArgDoc kEvalShaArgs[] = {{"sha1", "string"},
                                   {"numkeys", "integer"},
                                   {"key", "key", {}, true, true},
                                   {"arg", "string", {}, true, true}};
constexpr ArgDoc kScriptBody[] = {{"script", "string"}};
constexpr ArgDoc kShaList[] = {{"sha1", "string", {}, false, true}};
constexpr ArgDoc kFlushMode[] = {{"async", "pure-token", "ASYNC"}, {"sync", "pure-token", "SYNC"}};
constexpr ArgDoc kFlushArgs[] = {{"flush-type", "oneof", {}, true, false, kFlushMode}};
constexpr ArgDoc kDelIfEqArgs[] = {kKey, {"value", "string"}};
constexpr ArgDoc kDelExArgs[] = {kKey, {"value", "string", "IFEQ", true}};
constexpr ArgDoc kPatternArgs[] = {{"pattern", "pattern"}};
constexpr ArgDoc kScanArgs[] = {{"cursor", "integer"},
                                {"pattern", "pattern", "MATCH", true},
                                {"count", "integer", "COUNT", true},
                                {"type", "string", "TYPE", true}};
constexpr ArgDoc kMessageOptional[] = {{"message", "string", {}, true}};
constexpr ArgDoc kSaveMode[] = {{"nosave", "pure-token", "NOSAVE"}, {"save", "pure-token", "SAVE"}};
constexpr ArgDoc kShutdownArgs[] = {{"save-selector", "oneof", {}, true, false, kSaveMode},
                                    {"now", "pure-token", "NOW", true},
                                    {"force", "pure-token", "FORCE", true},
                                    {"abort", "pure-token", "ABORT", true}};
constexpr ArgDoc kMessage[] = {{"message", "string"}};
constexpr ArgDoc kHelloAuth[] = {{"username", "string"}, {"password", "string"}};
constexpr ArgDoc kHelloProto[] = {
    {"protover", "integer"},
    {"auth", "block", "AUTH", true, false, kHelloAuth},
    {"clientname", "string", "SETNAME", true}};
constexpr ArgDoc kHelloArgs[] = {{"arguments", "block", {}, true, false, kHelloProto}};
constexpr ArgDoc kAuthArgs[] = {{"username", "string", {}, true}, {"password", "string"}};
constexpr ArgDoc kSelectArgs[] = {{"index", "integer"}};
constexpr ArgDoc kNameArgs[] = {{"connection-name", "string"}};
constexpr ArgDoc kSetInfoAttr[] = {{"libname", "string", "LIB-NAME"},
                                   {"libver", "string", "LIB-VER"}};
constexpr ArgDoc kSetInfoArgs[] = {{"attr", "oneof", {}, false, false, kSetInfoAttr}};
constexpr ArgDoc kClientListArgs[] = {{"client-type", "string", "TYPE", true},
                                      {"client-id", "integer", "ID", true, true}};
constexpr ArgDoc kKillFilters[] = {{"client-id", "integer", "ID", true},
                                   {"ip:port", "string", "ADDR", true},
                                   {"ip:port", "string", "LADDR", true},
                                   {"username", "string", "USER", true},
                                   {"maxage", "integer", "MAXAGE", true},
                                   {"yes/no", "string", "SKIPME", true}};
constexpr ArgDoc kKillArgs[] = {{"filter", "block", {}, false, true, kKillFilters}};
constexpr ArgDoc kCommandNames[] = {{"command-name", "string", {}, true, true}};
constexpr ArgDoc kSectionArgs[] = {{"section", "string", {}, true, true}};
constexpr ArgDoc kConfigGetArgs[] = {{"parameter", "string", {}, false, true}};
constexpr ArgDoc kConfigSetPair[] = {{"parameter", "string"}, {"value", "string"}};
constexpr ArgDoc kConfigSetArgs[] = {{"data", "block", {}, false, true, kConfigSetPair}};

constexpr ArgDoc kAclCatArgs[] = {{"category", "string", {}, true}};
constexpr ArgDoc kAclUserArgs[] = {{"username", "string"}, {"rule", "string", {}, true, true}};
constexpr ArgDoc kAclDelUserArgs[] = {{"username", "string", {}, false, true}};

constexpr CommandSpec kAclSubcommands[] = {
    {"acl|cat", -2, kL, kSl, 0, 0, 0, "server",
     "Lists the ACL categories, or the commands inside a category.", "6.0.0", kAclCatArgs,
     CmdAclCat},
    {"acl|deluser", -3, kA | kL, kAd | kSl, 0, 0, 0, "server",
     "Not supported: users are defined in the config file.", "6.0.0", kAclDelUserArgs,
     CmdAclSetUser},
    {"acl|help", 2, kL, kSl, 0, 0, 0, "server", "Returns helpful text about the subcommands.",
     "6.0.0", {}, CmdAclHelp},
    {"acl|list", 2, kA | kL, kAd | kSl, 0, 0, 0, "server",
     "Dumps the effective rules in ACL file format.", "6.0.0", {}, CmdAclList},
    {"acl|setuser", -3, kA | kL, kAd | kSl, 0, 0, 0, "server",
     "Not supported: users are defined in the config file.", "6.0.0", kAclUserArgs,
     CmdAclSetUser},
    {"acl|users", 2, kA | kL, kAd | kSl, 0, 0, 0, "server", "Lists all ACL users.", "6.0.0", {},
     CmdAclUsers},
    {"acl|whoami", 2, kL, kSl, 0, 0, 0, "server",
     "Returns the authenticated username of the current connection.", "6.0.0", {},
     CmdAclWhoAmI},
};

constexpr CommandSpec kClientSubcommands[] = {
    {"client|getname", 2, kF, kSl | kCo, 0, 0, 0, "connection", "Returns the name of the connection.",
     "2.6.9", {}, CmdClientGetName},
    {"client|help", 2, kL, kSl | kCo, 0, 0, 0, "connection", "Returns helpful text about the subcommands.",
     "5.0.0", {}, CmdClientHelp},
    {"client|id", 2, kF, kSl | kCo, 0, 0, 0, "connection", "Returns the unique client ID of the connection.",
     "5.0.0", {}, CmdClientId},
    {"client|info", 2, kF, kSl | kCo, 0, 0, 0, "connection",
     "Returns information about the connection.", "6.2.0", {}, CmdClientInfo},
    {"client|kill", -3, kA, kAd | kSl | kCo, 0, 0, 0, "connection", "Terminates open connections.", "2.4.0",
     kKillArgs, CmdClientKill},
    {"client|list", -2, kA, kAd | kSl | kCo, 0, 0, 0, "connection", "Lists open connections.", "2.4.0",
     kClientListArgs, CmdClientList},
    {"client|setinfo", 4, kF, kSl | kCo, 0, 0, 0, "connection", "Sets information specific to the client.",
     "7.2.0", kSetInfoArgs, CmdClientSetInfo},
    {"client|setname", 3, kF, kSl | kCo, 0, 0, 0, "connection", "Sets the connection name.", "2.6.9",
     kNameArgs, CmdClientSetName},
};

constexpr CommandSpec kCommandSubcommands[] = {
    {"command|count", 2, kL, kSl | kCo, 0, 0, 0, "server", "Returns a count of commands.", "2.8.13", {},
     CmdCommandCount},
    {"command|docs", -2, kL, kSl | kCo, 0, 0, 0, "server", "Returns documentary information about commands.",
     "7.0.0", kCommandNames, CmdCommandDocs},
    {"command|help", 2, kL, kSl | kCo, 0, 0, 0, "server", "Returns helpful text about the subcommands.",
     "5.0.0", {}, CmdCommandHelp},
    {"command|info", -2, kL, kSl | kCo, 0, 0, 0, "server", "Returns information about commands.", "2.8.13",
     kCommandNames, CmdCommandInfo},
    {"command|list", -2, kL, kSl | kCo, 0, 0, 0, "server", "Returns a list of command names.", "7.0.0", {},
     CmdCommandList},
};

constexpr CommandSpec kScriptSubcommands[] = {
    {"script|exists", -3, kF, kSl | kSc, 0, 0, 0, "scripting",
     "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0", kShaList,
     CmdScriptExists},
    {"script|flush", -2, 0, kAd | kSl | kSc, 0, 0, 0, "scripting", "Removes all server-side Lua scripts from the script cache.",
     "2.6.0", kFlushArgs, CmdScriptFlush},
    {"script|help", 2, kL, kSl | kSc, 0, 0, 0, "scripting", "Returns helpful text about the subcommands.",
     "5.0.0", {}, CmdScriptHelp},
    {"script|kill", 2, kL, kAd | kSl | kSc, 0, 0, 0, "scripting", "Terminates a server-side Lua script during execution.",
     "2.6.0", {}, CmdScriptKill},
    {"script|load", 3, 0, kSl | kSc, 0, 0, 0, "scripting", "Loads a server-side Lua script to the script cache.",
     "2.6.0", kScriptBody, CmdScriptLoad},
};

constexpr CommandSpec kConfigSubcommands[] = {
    {"config|get", -3, kA | kL, kAd | kSl, 0, 0, 0, "server", "Returns the effective values of settings.",
     "2.0.0", kConfigGetArgs, CmdConfigGet},
    {"config|help", 2, kL, kSl, 0, 0, 0, "server", "Returns helpful text about the subcommands.",
     "5.0.0", {}, CmdConfigHelp},
    {"config|resetstat", 2, kA | kL, kAd | kSl, 0, 0, 0, "server", "Resets the server's statistics.",
     "2.0.0", {}, CmdConfigResetStat},
    {"config|set", -4, kA | kL, kAd | kSl, 0, 0, 0, "server",
     "Not supported: settings are fixed at startup.", "2.0.0", kConfigSetArgs, CmdConfigSet},
};

// Sorted by name for binary search.
constexpr CommandSpec kCommands[] = {
    {"acl", -2, 0, 0, 0, 0, 0, "server", "A container for Access List Control commands.", "6.0.0",
     {}, nullptr, kAclSubcommands},
    {"asking", 1, kF, kFa, 0, 0, 0, "cluster", "Redis Cluster's: refused, as a standalone Redis refuses it.",
     "3.0.0", {}, CmdClusterModeOnly},
    {"auth", -2, kN | kF | kL, kFa | kCo, 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0",
     kAuthArgs, CmdAuth},
    {"client", -2, 0, 0, 0, 0, 0, "connection", "A container for client connection commands.",
     "2.4.0", {}, nullptr, kClientSubcommands},
    {"cluster", -2, 0, kSl, 0, 0, 0, "cluster",
     "Redis Cluster's commands: refused, as a standalone Redis refuses them.", "3.0.0", {},
     CmdCluster},
    {"command", -1, kL, kSl | kCo, 0, 0, 0, "server", "Returns detailed information about all commands.",
     "2.8.13", {}, CmdCommand, kCommandSubcommands},
    {"config", -2, 0, 0, 0, 0, 0, "server", "A container for server configuration commands.",
     "2.0.0", {}, nullptr, kConfigSubcommands},
    {"dbsize", 1, kR | kF, kKs | kRd | kFa, 0, 0, 0, "server", "Returns the number of held leases.", "1.0.0", {},
     CmdDbSize},
    {"del", -2, kW, kLk | kKs | kWr | kSl, 1, -1, 1, "generic",
     "Force-releases leases through the majority. Returns the number released.", "1.0.0", kKeys,
     CmdDel},
    {"delex", -2, kW | kF, kLk | kStr | kWr | kFa, 1, 1, 1, "string",
     "Deletes a lease; with IFEQ value only while value owns it (RELEASE). Returns 1 or 0.",
     "8.4.0", kDelExArgs, CmdDelEx},
    {"delifeq", 3, kW | kF, kLk | kStr | kWr | kFa, 1, 1, 1, "string",
     "Deletes a lease only while value owns it (RELEASE). Returns 1 or 0.", "9.0.0",
     kDelIfEqArgs, CmdDelIfEq},
    {"discard", 1, kF | kL, kFa | kTx, 0, 0, 0, "transactions",
     "Discards the commands queued since MULTI, and every WATCH.", "2.0.0", {}, CmdDiscard,
     {}, nullptr, TxnRole::kDiscard},
    {"echo", 2, kF, kFa | kCo, 0, 0, 0, "connection", "Returns the given string.", "1.0.0", kMessage,
     CmdEcho},
    {"eval", -3, kW, kSl | kSc, 0, 0, 0, "scripting",
     "Runs a Lua script on its declared keys, atomically through the majority.", "2.6.0",
     kEvalArgs, CmdEval},
    {"eval_ro", -3, kR, kSl | kSc, 0, 0, 0, "scripting",
     "Runs a read-only Lua script on this member's view of its keys.", "7.0.0", kEvalArgs,
     CmdEvalRo},
    {"evalsha", -3, kW, kSl | kSc, 0, 0, 0, "scripting",
     "Runs a cached Lua script by its SHA1, like EVAL.", "2.6.0", kEvalShaArgs, CmdEvalSha},
    {"evalsha_ro", -3, kR, kSl | kSc, 0, 0, 0, "scripting",
     "Runs a cached read-only Lua script by its SHA1, like EVAL_RO.", "7.0.0", kEvalShaArgs,
     CmdEvalShaRo},
    {"exec", 1, kL, kSl | kTx, 0, 0, 0, "transactions",
     "Runs the commands queued since MULTI as one transaction through the majority.", "1.2.0", {},
     CmdExec, {}, nullptr, TxnRole::kExec},
    {"exists", -2, kR | kF, kKs | kRd | kFa, 1, -1, 1, "generic",
     "Counts the given keys held here (a local read).", "1.0.0", kKeys, CmdExists},
    {"extend", 4, kW | kF | kP, kLk | kWr | kFa, 1, 1, 1, "lock",
     "Renews a lease held by owner for ttl ms. Returns its token, or null.", "0.1.0",
     kExtendArgs, CmdExtend},
    {"get", 2, kR | kF, kLk | kStr | kRd | kFa, 1, 1, 1, "string", "Returns a lease's owner (a local read), or null.",
     "1.0.0", kOnlyKey, CmdGet},
    {"hello", -1, kN | kF | kL, kFa | kCo, 0, 0, 0, "connection", "Handshakes with the server.", "6.0.0",
     kHelloArgs, CmdHello},
    {"info", -1, kL, kSl | kDa, 0, 0, 0, "server", "Returns information and statistics about the server.",
     "1.0.0", kSectionArgs, CmdInfo},
    {"keys", 2, kR, kKs | kRd | kSl | kDa, 0, 0, 0, "generic", "Returns the held keys that match a pattern.", "1.0.0",
     kPatternArgs, CmdKeys},
    {"lock", -4, kW | kB | kP, kLk | kWr | kSl | kBl, 1, 1, 1, "lock",
     "Acquires a lease for owner for ttl ms; WAIT blocks up to timeout ms (0: forever). Returns "
     "a fencing token, or null when held by another owner.",
     "0.1.0", kLockArgs, CmdLock, {}, LockWithoutWait},
    {"lockinfo", 2, kR | kF, kLk | kRd | kFa, 1, 1, 1, "lock",
     "Returns a lease's owner, token and remaining ms (a local read), or null.", "0.1.0",
     kOnlyKey, CmdLockInfo},
    {"members", -1, kA | kL, kAd | kSl, 0, 0, 0, "cluster",
     "Lists the cluster's members (no argument), or changes the configuration: MEMBERS ADD host:port "
     "[LEARNER], REMOVE, PROMOTE, DEMOTE host:port.",
     "0.2.0", {}, CmdMembers},
    {"multi", 1, kF | kL, kFa | kTx, 0, 0, 0, "transactions", "Starts a transaction: commands queue until EXEC.",
     "1.2.0", {}, CmdMulti, {}, nullptr, TxnRole::kMulti},
    {"peer", -2, kN | kF | kL | kPl, kAd | kFa, 0, 0, 0, "cluster",
     "Cluster traffic between members (PEER HELLO, then PEER AUTH with a proof of the cluster secret).",
     "0.1.0",
     {}, CmdPeer},
    {"ping", -1, kF | kL, kFa | kCo, 0, 0, 0, "connection", "Returns the server's liveliness response.",
     "1.0.0", kMessageOptional, CmdPing},
    {"pttl", 2, kR | kF, kKs | kRd | kFa, 1, 1, 1, "generic",
     "Returns a lease's remaining milliseconds (a local read), -2 if not held.", "2.6.0",
     kOnlyKey, CmdPttl},
    {"quit", -1, kN | kF | kL, kFa | kCo, 0, 0, 0, "connection", "Closes the connection.", "1.0.0", {},
     CmdQuit, {}, nullptr, TxnRole::kRunsNow},
    {"readonly", 1, kF | kL, kFa | kCo, 0, 0, 0, "cluster",
     "Redis Cluster's: refused, as a standalone Redis refuses it.", "3.0.0", {}, CmdClusterModeOnly},
    {"readwrite", 1, kF | kL, kFa | kCo, 0, 0, 0, "cluster",
     "Redis Cluster's: refused, as a standalone Redis refuses it.", "3.0.0", {}, CmdClusterModeOnly},
    {"release", 3, kW | kF | kP, kLk | kWr | kFa, 1, 1, 1, "lock",
     "Releases a lease held by owner. Returns 1, or 0 if owner did not hold it.", "0.1.0",
     kReleaseArgs, CmdRelease},
    {"reset", 1, kN | kF | kL, kFa | kCo, 0, 0, 0, "connection", "Resets the connection.", "6.2.0", {},
     CmdReset, {}, nullptr, TxnRole::kRunsNow},
    {"scan", -2, kR, kKs | kRd | kSl, 0, 0, 0, "generic", "Iterates over the held keys.", "2.8.0", kScanArgs,
     CmdScan},
    {"script", -2, 0, 0, 0, 0, 0, "scripting", "A container for Lua scripts management commands.",
     "2.6.0", {}, nullptr, kScriptSubcommands},
    {"select", 2, kF | kL, kKs | kFa, 0, 0, 0, "connection", "Selects database 0, the only one.", "1.0.0",
     kSelectArgs, CmdSelect},
    {"set", -3, kW, kLk | kStr | kWr | kSl, 1, 1, 1, "string",
     "Acquires a lease like LOCK: only SET key owner NX PX ms or NX EX s.", "1.0.0", kSetArgs,
     CmdSet},
    {"shutdown", -1, kA | kL, kAd | kSl, 0, 0, 0, "server",
     "Saves the state and stops the server; NOSAVE stops without saving (the next start then "
     "quarantines, as after a crash).",
     "1.0.0", kShutdownArgs, CmdShutdown},
    {"time", 1, kF | kL, kFa, 0, 0, 0, "server", "Returns the server time.", "2.6.0", {}, CmdTime},
    {"ttl", 2, kR | kF, kKs | kRd | kFa, 1, 1, 1, "generic",
     "Returns a lease's remaining seconds (a local read), -2 if not held.", "1.0.0", kOnlyKey,
     CmdTtl},
    {"type", 2, kR | kF, kKs | kRd | kFa, 1, 1, 1, "generic", "Returns string for a held lease, none otherwise.",
     "1.0.0", kOnlyKey, CmdType},
    {"unwatch", 1, kF | kL, kFa | kTx, 0, 0, 0, "transactions", "Forgets every WATCH of the connection.",
     "2.2.0", {}, CmdUnwatch},
    {"update", 4, kW | kF | kP, kLk | kWr | kFa, 1, 1, 1, "lock",
     "Hands a lease from owner to newowner, keeping token and deadline. Returns the token, or "
     "null.",
     "0.1.0", kUpdateArgs, CmdUpdate},
    {"wait", 3, kR | kB, kLk | kRd | kSl | kBl, 1, 1, 1, "lock",
     "Blocks until a held key is free: 1, 0 if not held, null on timeout (ms, 0: forever).",
     "0.1.0", kWaitArgs, CmdWait},
    {"watch", -2, kF | kL, kFa | kTx, 1, -1, 1, "transactions",
     "Makes EXEC run nothing (and answer null) if a key's lease changes before it.", "2.2.0",
     kKeys, CmdWatch, {}, nullptr, TxnRole::kRunsNow},
};

void WriteFlags(protocol::RespWriter& writer, uint32_t flags) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {kFlagWrite, "write"},   {kFlagReadonly, "readonly"}, {kFlagAdmin, "admin"},
      {kFlagBlocking, "blocking"}, {kFlagLoading, "loading"}, {kFlagStale, "stale"},
      {kFlagFast, "fast"},     {kFlagNoAuth, "no_auth"},
  };
  size_t count = 0;
  for (const auto& [flag, name] : kNames) count += (flags & flag) != 0;
  writer.WriteSetHeader(count);
  for (const auto& [flag, name] : kNames) {
    if (flags & flag) writer.WriteSimpleString(name);
  }
}

void WriteArgDocs(protocol::RespWriter& writer, std::span<const ArgDoc> args) {
  writer.WriteArrayHeader(args.size());
  for (const ArgDoc& arg : args) {
    const bool has_flags = arg.optional || arg.multiple;
    writer.WriteMapHeader(2 + !arg.token.empty() + has_flags + !arg.children.empty());
    writer.WriteBulk("name");
    writer.WriteBulk(arg.name);
    writer.WriteBulk("type");
    writer.WriteBulk(arg.type);
    if (!arg.token.empty()) {
      writer.WriteBulk("token");
      writer.WriteBulk(arg.token);
    }
    if (has_flags) {
      writer.WriteBulk("flags");
      writer.WriteSetHeader(static_cast<size_t>(arg.optional) + arg.multiple);
      if (arg.optional) writer.WriteSimpleString("optional");
      if (arg.multiple) writer.WriteSimpleString("multiple");
    }
    if (!arg.children.empty()) {
      writer.WriteBulk("arguments");
      WriteArgDocs(writer, arg.children);
    }
  }
}

}  // namespace

std::span<const CommandSpec> AllCommands() { return kCommands; }

const CommandSpec* FindCommand(std::string_view name) { return FindCommandIn(kCommands, name); }

const CommandSet& LockerdCommands() {
  static const CommandSet commands{kCommands, &CommandAclCatalog(), QueueInTransaction};
  return commands;
}

namespace {

bool IsEvalName(std::string_view name) {
  return name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro";
}

AclCommand AclCommandOf(const CommandSpec& spec) {
  AclCommand command;
  command.name = spec.name;
  command.categories = spec.acl_categories;
  command.first_key = spec.first_key;
  command.last_key = spec.last_key;
  command.key_step = spec.key_step;
  command.keys_from_numkeys = IsEvalName(spec.name);
  command.exempt = (spec.flags & kFlagNoAuth) != 0;
  return command;
}

}  // namespace

const AclCatalog& CommandAclCatalog() {
  static const AclCatalog catalog = [] {
    std::vector<AclCommand> commands;
    for (const CommandSpec& spec : kCommands) {
      if (spec.handler != nullptr) commands.push_back(AclCommandOf(spec));  // COMMAND alone runs too.
      for (const CommandSpec& sub : spec.subcommands) commands.push_back(AclCommandOf(sub));
    }
    // Script-only commands (script_keys.cc), so that rules can name them.
    commands.push_back({"expire", kKs | kWr | kFa, 1, 1, 1});
    commands.push_back({"pexpire", kKs | kWr | kFa, 1, 1, 1});
    commands.push_back({"unlink", kKs | kWr | kFa, 1, -1, 1});
    return AclCatalog(std::move(commands));
  }();
  return catalog;
}

void WriteCommandInfo(Client& client, const CommandSpec& spec) {
  protocol::RespWriter& writer = client.writer();
  writer.WriteArrayHeader(10);
  writer.WriteBulk(spec.name);
  writer.WriteInteger(spec.arity);
  WriteFlags(writer, spec.flags);
  writer.WriteInteger(spec.first_key);
  writer.WriteInteger(spec.last_key);
  writer.WriteInteger(spec.key_step);
  const uint32_t categories = spec.acl_categories;
  const std::span<const std::string_view> names = AclCategoryNames();
  writer.WriteSetHeader(static_cast<size_t>(std::popcount(categories)));
  for (size_t i = 0; i < names.size(); ++i) {
    if (categories & (1u << i)) writer.WriteSimpleString("@" + std::string(names[i]));
  }
  writer.WriteArrayHeader(0);  // Tips.
  writer.WriteArrayHeader(0);  // Key specs.
  writer.WriteArrayHeader(spec.subcommands.size());
  for (const CommandSpec& sub : spec.subcommands) WriteCommandInfo(client, sub);
}

void WriteHelpLines(Client& client, std::span<const std::string_view> lines) {
  client.writer().WriteArrayHeader(lines.size());
  for (const std::string_view line : lines) client.writer().WriteSimpleString(line);
}

void WriteCommandDocs(Client& client, const CommandSpec& spec) {
  protocol::RespWriter& writer = client.writer();
  writer.WriteMapHeader(3 + !spec.args.empty() + !spec.subcommands.empty());
  writer.WriteBulk("summary");
  writer.WriteBulk(spec.summary);
  writer.WriteBulk("since");
  writer.WriteBulk(spec.since);
  writer.WriteBulk("group");
  writer.WriteBulk(spec.group);
  if (!spec.args.empty()) {
    writer.WriteBulk("arguments");
    WriteArgDocs(writer, spec.args);
  }
  if (!spec.subcommands.empty()) {
    writer.WriteBulk("subcommands");
    writer.WriteMapHeader(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      writer.WriteBulk(sub.name);
      WriteCommandDocs(client, sub);
    }
  }
}

}  // namespace lockerd::server
