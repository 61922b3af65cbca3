// LOCK, EXTEND, RELEASE, WAIT, UPDATE, LOCKINFO and the Redis forms SET NX,
// GET and DEL. Writes go through the engine's write path (a majority round);
// reads look at this member's table only, so they are hints: a client proves
// it holds a lock with its LOCK reply and token, not with GET or LOCKINFO.
#include <variant>

#include "cluster/lease_math.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/engine/request_parse.h"

namespace lockerd::server {
namespace {

cluster::WriteRequest MakeRequest(cluster::WriteOp op, std::string_view key,
                                  std::string_view owner, int64_t ttl_ms) {
  cluster::WriteRequest request;
  request.op = op;
  request.key.assign(key);
  request.owner.assign(owner);
  request.ttl_ms = ttl_ms;
  return request;
}

// A wait of `wait_ms` (0 = forever) from the moment the command arrived.
int64_t WaitDeadline(int64_t wait_ms, Time now) {
  return wait_ms == 0 ? kNoDeadline : now.mono_ms + wait_ms;
}

}  // namespace

void CmdLock(CommandContext& c) {
  auto parsed = ParseLock(c.args, c.engine.config().max_lease_ms);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.engine.ReplyError(c.client, *error);
  const LockArgs& lock = std::get<LockArgs>(parsed);
  auto request = MakeRequest(cluster::WriteOp::kLock, lock.key, lock.owner, lock.ttl_ms);
  if (c.engine.MustQueue(lock.key, lock.owner, c.now)) {
    if (lock.wait) {
      return c.engine.QueueBehindWaiters(c.client, std::move(request),
                                         WaitDeadline(lock.wait_ms, c.now));
    }
    ++c.engine.stats().locks_denied;
    return c.client.writer().WriteNull();  // Others are waiting for it.
  }
  if (lock.wait) {
    c.engine.SubmitLockWait(c.client, std::move(request), WaitDeadline(lock.wait_ms, c.now),
                            /*front_of_line=*/false, c.now);
  } else {
    c.engine.SubmitWrite(c.client, std::move(request), ReplyStyle::kToken, c.now);
  }
}

void CmdExtend(CommandContext& c) {
  auto ttl = ParseTtl(c.args[3], c.engine.config().max_lease_ms);
  if (auto* error = std::get_if<std::string>(&ttl)) return c.engine.ReplyError(c.client, *error);
  c.engine.SubmitWrite(c.client,
                       MakeRequest(cluster::WriteOp::kExtend, c.args[1], c.args[2],
                                   std::get<int64_t>(ttl)),
                       ReplyStyle::kToken, c.now);
}

void CmdRelease(CommandContext& c) {
  c.engine.SubmitWrite(c.client, MakeRequest(cluster::WriteOp::kRelease, c.args[1], c.args[2], 0),
                       ReplyStyle::kOneZero, c.now);
}

void CmdUpdate(CommandContext& c) {
  auto request = MakeRequest(cluster::WriteOp::kUpdate, c.args[1], c.args[2], 0);
  request.new_owner = c.args[3];
  c.engine.SubmitWrite(c.client, std::move(request), ReplyStyle::kToken, c.now);
}

void CmdWait(CommandContext& c) {
  auto timeout = ParseWaitTimeout(c.args[2]);
  if (auto* error = std::get_if<std::string>(&timeout)) {
    return c.engine.ReplyError(c.client, *error);
  }
  if (c.engine.node().table().FindHeld(c.args[1], c.now.mono_ms) == nullptr) {
    return c.client.writer().WriteInteger(0);  // Not held when asked.
  }
  c.engine.StartObserve(c.client, c.args[1], WaitDeadline(std::get<int64_t>(timeout), c.now));
}

void CmdLockInfo(CommandContext& c) {
  const cluster::Register* reg = c.engine.node().table().FindHeld(c.args[1], c.now.mono_ms);
  protocol::RespWriter& writer = c.client.writer();
  if (reg == nullptr) return writer.WriteNull();
  writer.WriteMapHeader(3);
  writer.WriteBulk("owner");
  writer.WriteBulk(reg->owner);
  writer.WriteBulk("token");
  writer.WriteInteger(static_cast<int64_t>(reg->token));
  writer.WriteBulk("remaining_ms");
  // What the holder may count on, as PTTL (cluster/lease_math.h).
  writer.WriteInteger(
      cluster::ReportedRemainingMs(reg->RemainingMs(c.now.mono_ms), c.engine.config().lease_drift));
}

void CmdSet(CommandContext& c) {
  auto parsed = ParseSet(c.args, c.engine.config().max_lease_ms);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.engine.ReplyError(c.client, *error);
  const SetArgs& set = std::get<SetArgs>(parsed);
  if (!set.NxLock() && !set.Swap()) return RunAsTransaction(c);  // XX, GET, KEEPTTL, a take-over.
  if (set.Swap()) {  // Compare-and-set of the owner: the same lease, handed over.
    auto request = MakeRequest(cluster::WriteOp::kSwap, set.key, set.old_owner, set.ttl_ms);
    request.new_owner = set.owner;
    return c.engine.SubmitWrite(c.client, std::move(request), ReplyStyle::kOk, c.now);
  }
  if (c.engine.MustQueue(set.key, set.owner, c.now)) {
    ++c.engine.stats().locks_denied;
    return c.client.writer().WriteNull();
  }
  auto request = MakeRequest(cluster::WriteOp::kLock, set.key, set.owner, set.ttl_ms);
  request.only_if_free = true;  // Redis's NX: null whenever the key is held.
  c.engine.SubmitWrite(c.client, std::move(request), ReplyStyle::kOk, c.now);
}

void CmdGet(CommandContext& c) {
  const cluster::Register* reg = c.engine.node().table().FindHeld(c.args[1], c.now.mono_ms);
  if (reg == nullptr) return c.client.writer().WriteNull();
  c.client.writer().WriteBulk(reg->owner);
}

void CmdDel(CommandContext& c) { c.engine.SubmitDelete(c.client, c.args.subspan(1), c.now); }

// DELIFEQ key value (Valkey): RELEASE under Valkey's name.
void CmdDelIfEq(CommandContext& c) {
  c.engine.SubmitWrite(c.client, MakeRequest(cluster::WriteOp::kRelease, c.args[1], c.args[2], 0),
                       ReplyStyle::kOneZero, c.now);
}

// DELEX key [IFEQ value] (Redis 8.4): DEL of one key, or RELEASE with IFEQ.
void CmdDelEx(CommandContext& c) {
  auto parsed = ParseDelEx(c.args);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.engine.ReplyError(c.client, *error);
  const DelExArgs& delex = std::get<DelExArgs>(parsed);
  if (!delex.ifeq) return c.engine.SubmitDelete(c.client, c.args.subspan(1, 1), c.now);
  c.engine.SubmitWrite(c.client, MakeRequest(cluster::WriteOp::kRelease, delex.key, delex.owner, 0),
                       ReplyStyle::kOneZero, c.now);
}

}  // namespace lockerd::server
