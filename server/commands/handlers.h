// Command handlers, grouped by file: lock commands (commands_lock.cc), key
// reads (commands_keys.cc), connection commands (commands_connection.cc) and
// server commands (commands_server.cc). Each parses its arguments fully
// before it acts, and writes exactly one reply (now, or when its write or
// wait completes).
#pragma once

#include "server/commands/command_table.h"

namespace lockerd::server {

// Lock commands (SPEC section 1) and their Redis forms (SET NX, GET, DEL).
void CmdLock(CommandContext& context);
void CmdExtend(CommandContext& context);
void CmdRelease(CommandContext& context);
void CmdWait(CommandContext& context);
void CmdUpdate(CommandContext& context);
void CmdLockInfo(CommandContext& context);
void CmdSet(CommandContext& context);
void CmdGet(CommandContext& context);
void CmdDel(CommandContext& context);
void CmdDelIfEq(CommandContext& context);
void CmdDelEx(CommandContext& context);

// The cluster's configuration and its changes (members.cc).
void CmdMembers(CommandContext& context);

// Scripts (commands_script.cc).
void CmdEval(CommandContext& context);
void CmdEvalSha(CommandContext& context);
void CmdEvalRo(CommandContext& context);
void CmdEvalShaRo(CommandContext& context);
void CmdScriptLoad(CommandContext& context);
void CmdScriptExists(CommandContext& context);
void CmdScriptFlush(CommandContext& context);
void CmdScriptKill(CommandContext& context);
void CmdScriptHelp(CommandContext& context);

// Key reads.
void CmdExists(CommandContext& context);
void CmdPttl(CommandContext& context);
void CmdTtl(CommandContext& context);
void CmdType(CommandContext& context);
void CmdKeys(CommandContext& context);
void CmdScan(CommandContext& context);
void CmdDbSize(CommandContext& context);

// Connection.
void CmdPing(CommandContext& context);
void CmdEcho(CommandContext& context);
void CmdQuit(CommandContext& context);
void CmdReset(CommandContext& context);
void CmdHello(CommandContext& context);
void CmdAuth(CommandContext& context);
void CmdSelect(CommandContext& context);
void CmdClientId(CommandContext& context);
void CmdClientSetName(CommandContext& context);
void CmdClientGetName(CommandContext& context);
void CmdClientSetInfo(CommandContext& context);
void CmdClientInfo(CommandContext& context);
void CmdClientList(CommandContext& context);
void CmdClientKill(CommandContext& context);
void CmdClientHelp(CommandContext& context);
void CmdClientNoop(CommandContext& context);

// Server.
void CmdCommand(CommandContext& context);
void CmdCommandCount(CommandContext& context);
void CmdCommandInfo(CommandContext& context);
void CmdCommandDocs(CommandContext& context);
void CmdCommandList(CommandContext& context);
void CmdCommandHelp(CommandContext& context);
void CmdInfo(CommandContext& context);
void CmdConfigGet(CommandContext& context);
void CmdConfigSet(CommandContext& context);
void CmdConfigResetStat(CommandContext& context);
void CmdConfigHelp(CommandContext& context);
void CmdTime(CommandContext& context);
// CLUSTER ..., READONLY, READWRITE, ASKING: refused as a standalone Redis
// refuses them (commands_cluster_mode.cc).
void CmdCluster(CommandContext& context);
void CmdClusterModeOnly(CommandContext& context);
// Transactions (commands_transaction.cc): MULTI queues the commands up to
// EXEC, which runs them as one transaction through the majority.
void CmdMulti(CommandContext& context);
void CmdExec(CommandContext& context);
void CmdDiscard(CommandContext& context);
void CmdWatch(CommandContext& context);
void CmdUnwatch(CommandContext& context);
// Between MULTI and EXEC: queues one command (QUEUED) or rejects it, which
// makes EXEC answer EXECABORT.
void QueueInTransaction(Engine& engine, Client& client, const CommandSpec& spec,
                        std::span<const std::string> args);
// Runs one command on its first key as a transaction through the majority,
// answering its reply: the SET forms other than SET NX and IFEQ.
void RunAsTransaction(CommandContext& context);
void CmdShutdown(CommandContext& context);

// ACL (commands_acl.cc).
void CmdAclWhoAmI(CommandContext& context);
void CmdAclList(CommandContext& context);
void CmdAclUsers(CommandContext& context);
void CmdAclCat(CommandContext& context);
void CmdAclSetUser(CommandContext& context);
void CmdAclHelp(CommandContext& context);

// Cluster peers (commands_peer.cc).
void CmdPeer(CommandContext& context);

}  // namespace lockerd::server
