// Key reads: EXISTS, PTTL, TTL, TYPE, KEYS, SCAN, DBSIZE. They read this
// member's table (local reads, like locker's dirty reads) and never write; a
// lease past its deadline reads as absent even before expiry removes it.
#include <variant>

#include "cluster/lease_math.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"
#include "server/config/limits.h"
#include "base/glob.h"
#include "server/engine/request_parse.h"

namespace lockerd::server {
namespace {

const cluster::Register* Held(CommandContext& c, std::string_view key) {
  return c.engine.node().table().FindHeld(key, c.now.mono_ms);
}

int64_t ReportedMs(const CommandContext& c, const cluster::Register& reg) {
  return cluster::ReportedRemainingMs(reg.RemainingMs(c.now.mono_ms), c.engine.config().lease_drift);
}

}  // namespace

void CmdExists(CommandContext& c) {
  int64_t count = 0;
  for (size_t i = 1; i < c.args.size(); ++i) count += Held(c, c.args[i]) != nullptr;
  c.client.writer().WriteInteger(count);
}

// PTTL and TTL report what the holder may count on (never more than the ttl
// asked): the time left here, less the drift allowance and δ
// (cluster/lease_math.h, ReportedRemainingMs).
void CmdPttl(CommandContext& c) {
  const cluster::Register* reg = Held(c, c.args[1]);
  c.client.writer().WriteInteger(reg == nullptr ? -2 : ReportedMs(c, *reg));
}

void CmdTtl(CommandContext& c) {
  const cluster::Register* reg = Held(c, c.args[1]);
  // Redis rounds to the nearest second.
  c.client.writer().WriteInteger(reg == nullptr ? -2 : (ReportedMs(c, *reg) + 500) / 1000);
}

void CmdType(CommandContext& c) {
  // A lease reads as a string (its value is the owner), as Redis clients expect.
  c.client.writer().WriteSimpleString(Held(c, c.args[1]) == nullptr ? "none" : "string");
}

void CmdKeys(CommandContext& c) {
  const cluster::LeaseTable& table = c.engine.node().table();
  const std::string& pattern = c.args[1];
  if (pattern.size() > kPatternBytesMax) return c.engine.ReplyError(c.client, errors::kPatternTooLong);
  const bool all = pattern == "*";
  // A reply the client could never receive is refused before it is built:
  // count its bytes as the keys are found.
  const size_t reply_bytes_max = c.engine.config().output_limit.hard_bytes;
  size_t reply_bytes = 0;
  std::vector<std::string_view> keys;
  for (size_t slot = 0; slot < table.slot_limit(); ++slot) {
    const cluster::Register* reg = table.RegisterAt(slot);
    if (reg == nullptr || !reg->HeldAt(c.now.mono_ms)) continue;
    const std::string_view key = *table.KeyAt(slot);
    if (!all && !GlobMatch(pattern, key)) continue;
    keys.push_back(key);
    reply_bytes += key.size() + 16;  // "$<len>\r\n" + key + "\r\n"
    if (reply_bytes > reply_bytes_max) return c.engine.ReplyError(c.client, errors::kKeysReplyTooBig);
  }
  c.client.writer().WriteArrayHeader(keys.size());
  for (const std::string_view key : keys) c.client.writer().WriteBulk(key);
}

void CmdScan(CommandContext& c) {
  auto parsed = ParseScan(c.args);
  if (auto* error = std::get_if<std::string>(&parsed)) return c.engine.ReplyError(c.client, *error);
  const ScanArgs& scan = std::get<ScanArgs>(parsed);
  if (scan.pattern.size() > kPatternBytesMax) {
    return c.engine.ReplyError(c.client, errors::kPatternTooLong);
  }
  const cluster::LeaseTable& table = c.engine.node().table();
  // The cursor is a slot number. Registers never move between slots, so a
  // key held for the whole iteration is returned exactly once. COUNT bounds
  // the keys looked at; empty slots are skipped up to ten times as many.
  std::vector<std::string_view> keys;
  size_t slot = scan.cursor;
  size_t examined = 0;
  size_t visited = 0;
  while (slot < table.slot_limit() && examined < scan.count && visited < scan.count * 10) {
    const cluster::Register* reg = table.RegisterAt(slot);
    ++visited;
    if (reg != nullptr && reg->HeldAt(c.now.mono_ms)) {
      ++examined;
      const std::string_view key = *table.KeyAt(slot);
      const bool matches = scan.pattern.empty() || GlobMatch(scan.pattern, key);
      if (matches && scan.type_matches) keys.push_back(key);
    }
    ++slot;
  }
  const uint64_t next_cursor = slot >= table.slot_limit() ? 0 : slot;
  protocol::RespWriter& writer = c.client.writer();
  writer.WriteArrayHeader(2);
  writer.WriteBulk(std::to_string(next_cursor));
  writer.WriteArrayHeader(keys.size());
  for (const std::string_view key : keys) writer.WriteBulk(key);
}

void CmdDbSize(CommandContext& c) {
  c.client.writer().WriteInteger(static_cast<int64_t>(c.engine.node().table().held_count()));
}

}  // namespace lockerd::server
