// MULTI, EXEC and DISCARD. Transactions are not offered yet, and a refused
// MULTI must never let what follows it run: Redis clients send MULTI, the
// commands and EXEC in one go (redis-py's pipeline, node-redis and ioredis
// multi(), go-redis TxPipelined), so a SET ... NX after a refused MULTI used
// to run and leave the caller, told "error", holding a lock until its ttl.
// Now MULTI is refused and the connection refuses every command up to EXEC
// (EXECABORT, as Redis ends a transaction with errors) or DISCARD.
#include "server/client.h"
#include "server/commands.h"
#include "server/engine.h"
#include "server/errors.h"

namespace lockerd::server {

void CmdMulti(CommandContext& c) {
  c.client.multi_refused = true;
  c.engine.ReplyError(c.client, errors::kMultiRefused);
}

void CmdExec(CommandContext& c) {
  if (!c.client.multi_refused) return c.engine.ReplyError(c.client, errors::kExecWithoutMulti);
  c.client.multi_refused = false;
  c.engine.ReplyError(c.client, errors::kExecAbort);
}

void CmdDiscard(CommandContext& c) {
  if (!c.client.multi_refused) return c.engine.ReplyError(c.client, errors::kDiscardWithoutMulti);
  c.client.multi_refused = false;
  c.client.writer().WriteSimpleString("OK");
}

}  // namespace lockerd::server
