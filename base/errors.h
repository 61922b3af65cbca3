// Reply texts for errors, in one place so that tests, docs and handlers
// agree. Texts that Redis also sends are Redis's, word for word, because
// clients match on them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lockerd::server::errors {

inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kTimeoutNegative = "ERR timeout is negative";
inline constexpr std::string_view kTimeoutOutOfRange = "ERR timeout is out of range";
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNotConfigured =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
inline constexpr std::string_view kHelloNoAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
    "RESP protocol version at the same time";
inline constexpr std::string_view kNoPermKey = "NOPERM No permissions to access a key";
inline constexpr std::string_view kAclSetUser =
    "ERR ACL SETUSER and ACL DELUSER are not supported: users are defined by `user` lines in the "
    "config file (or --user flags) and fixed at startup";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
inline constexpr std::string_view kDbIndex = "ERR DB index is out of range";
inline constexpr std::string_view kClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";
inline constexpr std::string_view kNoSuchClient = "ERR No such client";
inline constexpr std::string_view kSetForm =
    "ERR keys here are leases: SET needs PX or EX (or KEEPTTL on a held key), and EXAT and PXAT "
    "are not offered (a value without a ttl would be a lock that never ends)";
inline constexpr std::string_view kQueuedRefused =
    "ERR not run: this connection's MULTI was refused, so nothing runs until EXEC or DISCARD";
inline constexpr std::string_view kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr std::string_view kWatchInMulti = "ERR WATCH inside MULTI is not allowed";
inline constexpr std::string_view kInvalidExpireSet = "ERR invalid expire time in 'set' command";
inline constexpr std::string_view kExpireNxAndOthers =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtAndLt =
    "ERR GT and LT options at the same time are not compatible";
inline constexpr std::string_view kDelExOnlyIfEq =
    "ERR DELEX here supports only IFEQ value (a lease's owner)";
inline constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
inline constexpr std::string_view kPeerLinkOnly = "ERR a peer link carries PEER commands only";
inline constexpr std::string_view kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr std::string_view kNoScript = "NOSCRIPT No matching script. Please use EVAL.";
inline constexpr std::string_view kNoShutdown = "ERR No shutdown in progress.";
inline constexpr std::string_view kShutdownFailed = "ERR Errors trying to SHUTDOWN. Check logs.";
inline constexpr std::string_view kMaxClients = "ERR max number of clients reached";
inline constexpr std::string_view kTooManyWaiters =
    "ERR too many clients waiting on this key (maxwaiters-per-key)";
inline constexpr std::string_view kPatternTooLong = "ERR pattern is longer than 256 bytes";
inline constexpr std::string_view kKeysReplyTooBig =
    "ERR the KEYS reply would pass client-output-buffer-limit; use SCAN";
inline constexpr std::string_view kConfigSet =
    "ERR CONFIG SET is not supported: restart lockerd with --name value or a config file";
inline constexpr std::string_view kProtected =
    "DENIED lockerd is running in protected mode because no password is set (requirepass) and "
    "the client is not on a loopback address. To fix it: 1) set a password with --requirepass "
    "<password> or `requirepass` in the config file and restart; or 2) bind only to loopback; or "
    "3) if you trust this network, start with --protected-mode no.";

inline constexpr std::string_view kShuttingDown = "ERR server is shutting down";
inline constexpr std::string_view kTimeoutNotInteger = "ERR timeout is not an integer or out of range";
inline constexpr std::string_view kInvalidCursor = "ERR invalid cursor";
inline constexpr std::string_view kProtoVersionNotInteger =
    "ERR Protocol version is not an integer or out of range";
inline constexpr std::string_view kClientIdNotPositive = "ERR client-id should be greater than 0";
inline constexpr std::string_view kInvalidClientId = "ERR Invalid client ID";
inline constexpr std::string_view kClusterDisabled = "ERR This instance has cluster support disabled";
inline constexpr std::string_view kNotPeer = "NOPERM not a cluster peer: send PEER HELLO first";
inline constexpr std::string_view kSetKeepTtlFree =
    "ERR keys here are leases: SET KEEPTTL needs a held key, use PX or EX";

// EVAL and SCRIPT, and what a script's redis.call is told.
inline constexpr std::string_view kNumKeysNegative = "ERR Number of keys can't be negative";
inline constexpr std::string_view kNumKeysTooMany =
    "ERR Number of keys can't be greater than number of args";
inline constexpr std::string_view kScriptFlushOption = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
inline constexpr std::string_view kNotBusy = "NOTBUSY No scripts in execution right now.";
inline constexpr std::string_view kScriptReadOnly =
    "ERR Write commands are not allowed from read-only scripts.";
inline constexpr std::string_view kScriptCallNoArgs =
    "ERR Please specify at least one argument for this redis lib call";
inline constexpr std::string_view kScriptCallArgType =
    "ERR Lua redis lib command arguments must be strings or integers";
inline constexpr std::string_view kScriptLockWait = "ERR LOCK ... WAIT cannot block inside a script";
inline constexpr std::string_view kScriptTooDeep = "ERR reached lua stack limit";
// lua_engine.cc adds the limit, " (<n> bytes)", when the whole reply is too big.
inline constexpr std::string_view kScriptReplyTooBig =
    "ERR script reply is larger than script-memory-limit";
inline constexpr std::string_view kScriptTableWithoutErr = "ERR script raised a table without err";

// Echoed client bytes in error replies are cut to this many characters.
inline constexpr size_t kEchoBytesMax = 128;

// Bytes a client sent, made safe to echo: cut to kEchoBytesMax characters,
// CR and LF removed.
std::string Echo(std::string_view client_bytes);

std::string UnknownCommand(std::string_view name, std::span<const std::string> args);
std::string WrongArity(std::string_view name);
std::string UnknownSubcommand(std::string_view subcommand, std::string_view command);
std::string TtlRange(int64_t max_lease_ms);
std::string KeyTooLong(size_t key_bytes_max);
std::string MaxKeys(size_t max_keys);
// Redis 7's text: "NOPERM User alice has no permissions to run the 'lock' command".
std::string NoPermCommand(std::string_view user, std::string_view command);
// A protocol error from protocol/'s parser ("Protocol error: ..."), as a reply.
std::string ProtocolError(std::string_view parser_error);
std::string UnknownClientType(std::string_view type);
std::string UnknownAclCategory(std::string_view category);
std::string UnsupportedOption(std::string_view option);
// Redis's for EXPIRE and PEXPIRE (`command` in lower case); SET's is kInvalidExpireSet.
std::string InvalidExpireTime(std::string_view command);
std::string HelloOptionSyntax(std::string_view option);
std::string UnrecognizedOption(std::string_view option);
// CLIENT SETINFO's value for `attribute` (lib-name, lib-ver) is not printable text.
std::string ClientInfoInvalid(std::string_view attribute);
// `why` is the server's own words (peer.cc), not echoed client bytes.
std::string PeerHandshakeRefused(std::string_view why);

// MULTI and WATCH.
std::string NotInMulti(std::string_view command);
std::string QueuedTooBig(size_t queued_bytes_max);
std::string TransactionTooManyKeys(size_t keys_named, size_t script_max_keys);
std::string WatchTooManyKeys(size_t script_max_keys);

// Scripts.
std::string ScriptTooManyKeys(int64_t keys_declared, size_t script_max_keys);
std::string ScriptUndeclaredKey(std::string_view key);
std::string ScriptUnknownCommand(std::string_view command);
// Redis's: a NOPERM reply ("NOPERM <text>") to redis.call becomes
// "ERR ACL failure in script: <text>".
std::string AclFailureInScript(std::string_view noperm);
std::string ScriptTooLong(size_t body_bytes_max);
std::string ScriptCompile(std::string_view lua_message);
// A Lua error (not a redis.call error reply) that ended the script `sha`.
std::string ScriptRuntime(std::string_view lua_message, std::string_view sha);
std::string ScriptTimedOut(int64_t time_limit_ms);
std::string ScriptOutOfMemory(size_t memory_limit_bytes);

// An EXEC refused before it ran (arity, ACL): Redis's "EXECABORT
// Transaction discarded because of: <the refusal without its ERR>".
std::string ExecRefused(std::string_view refusal);
// A write that could not reach a majority (`detail` says why), or that
// lost to a competing round and may be tried again.
std::string NoQuorum(std::string_view detail);
std::string TryAgain(std::string_view detail);
// appendonly yes and the log cannot be written or synced (`why`: the
// system's message): Redis's words for the same case.
std::string MisconfLog(std::string_view why);
// A member removed from the cluster's configuration (MEMBERS REMOVE): it
// hears no chosen values, so it serves no key.
std::string NotAMember(uint32_t member, uint64_t epoch);

}  // namespace lockerd::server::errors
