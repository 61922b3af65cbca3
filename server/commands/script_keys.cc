#include "server/commands/script_keys.h"

#include <algorithm>

#include "base/check.h"
#include "cluster/decision.h"
#include "cluster/fencing.h"
#include "cluster/lease_math.h"
#include "base/ascii.h"
#include "protocol/numbers.h"
#include "base/errors.h"
#include "server/commands/command_table.h"
#include "server/engine/request_parse.h"

namespace lockerd::server::script {
namespace {

using base::EqualsIgnoreCase;
using Args = std::span<const std::string>;

ScriptValue Error(std::string_view text) { return ScriptValue::Error(std::string(text)); }

// The commands scripts share with clients: their arity is the command
// table's (one definition), so that a script and a client hear the same
// "wrong number of arguments".
constexpr std::string_view kSharedWithClients[] = {
    "get",    "set",    "del",     "exists",  "pttl",   "ttl",  "lockinfo", "lock", "extend",
    "update", "release", "delifeq", "delex",  "select", "ping", "type",     "time"};

// The commands only scripts may call (Redis's, not offered to clients): the
// arguments each takes, its name included.
struct ScriptOnlyArity {
  std::string_view name;
  size_t min;
  size_t max;
};
constexpr ScriptOnlyArity kScriptOnly[] = {
    {"mget", 2, SIZE_MAX},   {"strlen", 2, 2},     {"getrange", 4, 4}, {"substr", 4, 4},
    {"pexpiretime", 2, 2},   {"expiretime", 2, 2}, {"unlink", 2, SIZE_MAX},
    {"pexpire", 3, SIZE_MAX}, {"expire", 3, SIZE_MAX},
};

// False when a command scripts may call has too few or too many arguments;
// true for any other name (Call answers what it does not know).
bool ArityOk(Args args) {
  const std::string& name = args[0];
  for (const std::string_view shared : kSharedWithClients) {
    if (!base::EqualsIgnoreCase(name, shared)) continue;
    const CommandSpec* spec = FindCommand(name);
    CHECK(spec != nullptr);
    return ArityAccepts(*spec, args.size());
  }
  for (const ScriptOnlyArity& command : kScriptOnly) {
    if (base::EqualsIgnoreCase(name, command.name)) {
      return args.size() >= command.min && args.size() <= command.max;
    }
  }
  return true;
}

bool IsWrite(std::string_view name) {
  for (const std::string_view write :
       {"set", "del", "unlink", "pexpire", "expire", "lock", "extend", "release", "update",
        "delifeq", "delex"}) {
    if (base::EqualsIgnoreCase(name, write)) return true;
  }
  return false;
}

}  // namespace

ScriptKeys::ScriptKeys(const cluster::TxnView& view, ScriptKeysOptions options)
    : options_(options),
      names_(view.keys),
      counter_(view.counter_max),
      counter_at_start_(view.counter_max),
      wall_ms_(view.wall_ms) {
  keys_.reserve(names_.size());
  for (size_t i = 0; i < names_.size(); ++i) {
    index_.emplace(names_[i], i);
    keys_.push_back({view.leases[i], false, false});
  }
}

ScriptKeys::Key* ScriptKeys::Find(std::string_view name, ScriptValue* error) {
  const auto it = index_.find(name);
  if (it != index_.end()) return &keys_[it->second];
  *error = ScriptValue::Error(errors::ScriptUndeclaredKey(name));
  return nullptr;
}

ScriptValue ScriptKeys::Call(Args args) {
  if (args.empty()) return Error(errors::kScriptCallNoArgs);
  const std::string& name = args[0];
  if (options_.read_only && IsWrite(name)) return Error(errors::kScriptReadOnly);
  if (!ArityOk(args)) return ScriptValue::Error(errors::WrongArity(base::ToLower(name)));
  if (base::EqualsIgnoreCase(name, "get")) return Get(args);
  if (base::EqualsIgnoreCase(name, "mget")) return MGet(args);
  if (base::EqualsIgnoreCase(name, "strlen")) return StrLen(args);
  if (base::EqualsIgnoreCase(name, "getrange") || base::EqualsIgnoreCase(name, "substr")) return GetRange(args);
  if (base::EqualsIgnoreCase(name, "pexpiretime")) return ExpireTime(args, 1);
  if (base::EqualsIgnoreCase(name, "expiretime")) return ExpireTime(args, 1000);
  if (base::EqualsIgnoreCase(name, "time")) {
    // The wall clock the transaction was given (Symfony Lock reads it).
    return ScriptValue::Array({ScriptValue::Bulk(std::to_string(wall_ms_ / 1000)),
                               ScriptValue::Bulk(std::to_string(wall_ms_ % 1000 * 1000))});
  }
  if (base::EqualsIgnoreCase(name, "set")) return Set(args);
  if (base::EqualsIgnoreCase(name, "del") || base::EqualsIgnoreCase(name, "unlink")) return Del(args);
  if (base::EqualsIgnoreCase(name, "exists")) return Exists(args);
  if (base::EqualsIgnoreCase(name, "pexpire")) return Expire(args, 1);
  if (base::EqualsIgnoreCase(name, "expire")) return Expire(args, 1000);
  if (base::EqualsIgnoreCase(name, "pttl")) return Ttl(args, 1);
  if (base::EqualsIgnoreCase(name, "ttl")) return Ttl(args, 1000);
  if (base::EqualsIgnoreCase(name, "lockinfo")) return LockInfo(args);
  if (base::EqualsIgnoreCase(name, "lock") || base::EqualsIgnoreCase(name, "extend") ||
      base::EqualsIgnoreCase(name, "update") || base::EqualsIgnoreCase(name, "release") ||
      base::EqualsIgnoreCase(name, "delifeq")) {
    return LockWrite(args);
  }
  if (base::EqualsIgnoreCase(name, "delex")) {
    auto parsed = ParseDelEx(args);  // The command's parser, so the command's replies.
    if (auto* text = std::get_if<std::string>(&parsed)) return ScriptValue::Error(std::move(*text));
    const DelExArgs& delex = std::get<DelExArgs>(parsed);
    if (!delex.ifeq) return Del(args);
    const std::string release[] = {"release", std::string(delex.key), std::string(delex.owner)};
    return LockWrite(release);
  }
  if (base::EqualsIgnoreCase(name, "select")) {
    const auto db = protocol::ParseInt64(args[1]);
    if (!db) return Error(errors::kNotInteger);
    return *db == 0 ? ScriptValue::Status("OK") : Error(errors::kDbIndex);
  }
  if (base::EqualsIgnoreCase(name, "ping")) {
    if (args.size() > 2) return ScriptValue::Error(errors::WrongArity("ping"));  // As CmdPing.
    return args.size() == 2 ? ScriptValue::Bulk(args[1]) : ScriptValue::Status("PONG");
  }
  if (base::EqualsIgnoreCase(name, "type")) {
    ScriptValue error;
    Key* key = Find(args[1], &error);
    if (key == nullptr) return error;
    return ScriptValue::Status(key->lease.held ? "string" : "none");
  }
  return ScriptValue::Error(errors::ScriptUnknownCommand(name));
}

bool ScriptKeys::MayHoldAnother(const Key& key, ScriptValue* error) {
  if (key.lease.held || new_keys_ < options_.new_keys_allowed) return true;
  *error = ScriptValue::Error(errors::MaxKeys(options_.maxkeys));
  return false;
}

uint64_t ScriptKeys::NewToken() {
  counter_ = cluster::NextToken(counter_, wall_ms_);
  return counter_;
}

void ScriptKeys::Hold(Key& key, std::string_view owner, uint64_t token, int64_t ttl_ms, bool grants) {
  if (!key.lease.held) ++new_keys_;
  key.lease.held = true;
  key.lease.owner.assign(owner);
  key.lease.token = token;
  key.lease.remaining_ms = ttl_ms;
  key.written = true;
  key.grants = key.grants || grants;
  counter_ = std::max(counter_, token);
}

void ScriptKeys::Free(Key& key) {
  if (key.lease.held && new_keys_ > 0) --new_keys_;
  key.lease = {};
  key.written = true;
  key.grants = false;
}

ScriptValue ScriptKeys::Get(Args args) {
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  return key->lease.held ? ScriptValue::Bulk(key->lease.owner) : ScriptValue::Null();
}

// SET key value [NX | XX | IFEQ old] [GET] [PX ms | EX s | KEEPTTL]:
// Redis's meaning, with leases: a new owner of a free key, or a different
// owner replacing one (a forced take-over), gets a fresh token; the same
// owner renews; IFEQ and KEEPTTL hand the same lease (token and all) over.
// With GET it answers the owner before (or null), whether it set or not.
ScriptValue ScriptKeys::Set(Args args) {
  // The SET command's own parser (request_parse.h): the same mistake gets
  // the same reply in a script, in MULTI and from a client.
  auto parsed = ParseSet(args, options_.max_lease_ms);
  if (auto* text = std::get_if<std::string>(&parsed)) return ScriptValue::Error(std::move(*text));
  const SetArgs& set = std::get<SetArgs>(parsed);
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  cluster::LeaseView& lease = key->lease;
  const std::string_view owner = set.owner;
  if (owner.size() > options_.max_owner_bytes) {
    return ScriptValue::Error(errors::KeyTooLong(options_.max_owner_bytes));
  }
  const ScriptValue before = lease.held ? ScriptValue::Bulk(lease.owner) : ScriptValue::Null();
  const ScriptValue done = set.get ? before : ScriptValue::Status("OK");
  const ScriptValue not_done = set.get ? before : ScriptValue::Null();
  if ((set.nx && lease.held) || (set.xx && !lease.held) ||
      (set.ifeq && (!lease.held || lease.owner != set.old_owner))) {
    return not_done;
  }
  if (set.keepttl && !lease.held) {
    return Error(errors::kSetKeepTtlFree);
  }
  const int64_t kept_ms = lease.held ? cluster::CarriedOverMs(lease.remaining_ms, options_.drift,
                                                              options_.max_lease_ms)
                                     : 0;
  if (lease.held && (lease.owner == owner || set.ifeq)) {
    // The same lease (renewed, or handed over by its owner's IFEQ): a
    // renewal never shortens it (see Acceptor::Apply).
    const int64_t new_ttl = set.keepttl ? kept_ms : std::max(set.ttl_ms, kept_ms);
    Hold(*key, owner, lease.token, std::max<int64_t>(new_ttl, 1), /*grants=*/true);
  } else {
    // A new holder, KEEPTTL's included: a fresh token, so that a fenced
    // resource can tell the old holder's writes from the new one's.
    if (!MayHoldAnother(*key, &error)) return error;
    Hold(*key, owner, NewToken(), set.keepttl ? std::max<int64_t>(kept_ms, 1) : set.ttl_ms, /*grants=*/true);
  }
  return done;
}

// MGET key...: each declared key's owner, or null.
ScriptValue ScriptKeys::MGet(Args args) {
  std::vector<ScriptValue> values;
  for (size_t i = 1; i < args.size(); ++i) {
    ScriptValue error;
    Key* key = Find(args[i], &error);
    if (key == nullptr) return error;
    values.push_back(key->lease.held ? ScriptValue::Bulk(key->lease.owner) : ScriptValue::Null());
  }
  return ScriptValue::Array(std::move(values));
}

ScriptValue ScriptKeys::StrLen(Args args) {
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  return ScriptValue::Integer(key->lease.held ? static_cast<int64_t>(key->lease.owner.size()) : 0);
}

// GETRANGE key start end, with Redis's index rules (negative from the end,
// clamped; an empty string when the range is empty or the key free).
ScriptValue ScriptKeys::GetRange(Args args) {
  const auto start_arg = protocol::ParseInt64(args[2]);
  const auto end_arg = protocol::ParseInt64(args[3]);
  if (!start_arg || !end_arg) return Error(errors::kNotInteger);
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  const std::string owner = key->lease.held ? key->lease.owner : std::string();
  int64_t start = *start_arg;
  int64_t end = *end_arg;
  if (start < 0 && end < 0 && start > end) return ScriptValue::Bulk("");
  const auto length = static_cast<int64_t>(owner.size());
  if (start < 0) start = std::max<int64_t>(length + start, 0);
  if (end < 0) end = std::max<int64_t>(length + end, 0);
  if (end >= length) end = length - 1;
  if (length == 0 || start > end) return ScriptValue::Bulk("");
  return ScriptValue::Bulk(owner.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

ScriptValue ScriptKeys::Del(Args args) {
  int64_t deleted = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    ScriptValue error;
    Key* key = Find(args[i], &error);
    if (key == nullptr) return error;
    if (!key->lease.held) continue;
    Free(*key);
    ++deleted;
  }
  return ScriptValue::Integer(deleted);
}

ScriptValue ScriptKeys::Exists(Args args) {
  int64_t count = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    ScriptValue error;
    Key* key = Find(args[i], &error);
    if (key == nullptr) return error;
    count += key->lease.held ? 1 : 0;
  }
  return ScriptValue::Integer(count);
}

// PEXPIRE / EXPIRE key n [NX|XX|GT|LT]: renews a held lease (same owner and
// token). A lease is never shortened by a renewal on the members, so the
// script sees the longer of the two; n <= 0 ends the lease, as in Redis.
// Every lease has a ttl, so XX changes nothing and NX never sets.
ScriptValue ScriptKeys::Expire(Args args, int64_t unit_ms) {
  auto parsed = ParseExpire(args, unit_ms, wall_ms_);
  if (auto* text = std::get_if<std::string>(&parsed)) return ScriptValue::Error(std::move(*text));
  const ExpireArgs& expire = std::get<ExpireArgs>(parsed);
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  if (!key->lease.held || expire.nx) return ScriptValue::Integer(0);
  if (expire.ttl_ms <= 0) {
    Free(*key);
    return ScriptValue::Integer(1);
  }
  if (expire.ttl_ms > options_.max_lease_ms) return ScriptValue::Error(errors::TtlRange(options_.max_lease_ms));
  const int64_t ttl_ms = expire.ttl_ms;
  if ((expire.gt && ttl_ms <= key->lease.remaining_ms) || (expire.lt && ttl_ms >= key->lease.remaining_ms)) {
    return ScriptValue::Integer(0);
  }
  const int64_t kept_ms =
      cluster::CarriedOverMs(key->lease.remaining_ms, options_.drift, options_.max_lease_ms);
  const cluster::LeaseView lease = key->lease;
  Hold(*key, lease.owner, lease.token, std::max(ttl_ms, kept_ms), /*grants=*/true);
  return ScriptValue::Integer(1);
}

ScriptValue ScriptKeys::Ttl(Args args, int64_t unit_ms) {
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  if (!key->lease.held) return ScriptValue::Integer(-2);
  // What the holder may count on, as PTTL outside scripts (lease_math.h).
  const int64_t ms = cluster::ReportedRemainingMs(key->lease.remaining_ms, options_.drift);
  return ScriptValue::Integer(unit_ms == 1 ? ms : (ms + 500) / 1000);  // Redis rounds TTL.
}

// PEXPIRETIME / EXPIRETIME key: when the lease ends as a Unix time, from
// the transaction's wall clock and what the holder may count on (-2: free).
ScriptValue ScriptKeys::ExpireTime(Args args, int64_t unit_ms) {
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  if (!key->lease.held) return ScriptValue::Integer(-2);
  const int64_t at_ms = wall_ms_ + cluster::ReportedRemainingMs(key->lease.remaining_ms, options_.drift);
  return ScriptValue::Integer(unit_ms == 1 ? at_ms : (at_ms + 500) / 1000);  // Redis rounds, as TTL.
}

ScriptValue ScriptKeys::LockInfo(Args args) {
  ScriptValue error;
  Key* key = Find(args[1], &error);
  if (key == nullptr) return error;
  if (!key->lease.held) return ScriptValue::Null();
  std::vector<ScriptValue> items;
  items.push_back(ScriptValue::Bulk("owner"));
  items.push_back(ScriptValue::Bulk(key->lease.owner));
  items.push_back(ScriptValue::Bulk("token"));
  items.push_back(ScriptValue::Integer(static_cast<int64_t>(key->lease.token)));
  items.push_back(ScriptValue::Bulk("remaining_ms"));
  items.push_back(ScriptValue::Integer(cluster::ReportedRemainingMs(key->lease.remaining_ms, options_.drift)));
  return ScriptValue::Array(std::move(items));
}

ScriptValue ScriptKeys::LockWrite(Args args) {
  const std::string& name = args[0];
  cluster::WriteRequest request;
  request.key = args[1];
  request.owner = args[2];
  bool one_zero = false;  // RELEASE / DELIFEQ answer 1 or 0; the others a token or null.
  if (base::EqualsIgnoreCase(name, "lock")) {
    request.op = cluster::WriteOp::kLock;
    auto lock = ParseLock(args, options_.max_lease_ms);  // The command's parser, so its replies.
    if (auto* text = std::get_if<std::string>(&lock)) return ScriptValue::Error(std::move(*text));
    if (std::get<LockArgs>(lock).wait) return Error(errors::kScriptLockWait);
    request.ttl_ms = std::get<LockArgs>(lock).ttl_ms;
  } else if (base::EqualsIgnoreCase(name, "extend")) {
    request.op = cluster::WriteOp::kExtend;
    auto ttl = ParseTtl(args[3], options_.max_lease_ms);
    if (auto* text = std::get_if<std::string>(&ttl)) return ScriptValue::Error(std::move(*text));
    request.ttl_ms = std::get<int64_t>(ttl);
  } else if (base::EqualsIgnoreCase(name, "update")) {
    request.op = cluster::WriteOp::kUpdate;
    request.new_owner = args[3];
  } else {
    request.op = cluster::WriteOp::kRelease;
    one_zero = true;
  }
  if (request.owner.size() > options_.max_owner_bytes ||
      request.new_owner.size() > options_.max_owner_bytes) {
    return ScriptValue::Error(errors::KeyTooLong(options_.max_owner_bytes));
  }
  ScriptValue error;
  Key* key = Find(request.key, &error);
  if (key == nullptr) return error;
  if (request.op == cluster::WriteOp::kLock && !MayHoldAnother(*key, &error)) return error;
  const cluster::Decision decision = cluster::DecideWrite(
      {request, key->lease, {}, counter_, wall_ms_, options_.drift, options_.max_lease_ms});
  if (decision.kind != cluster::Decision::Kind::kCommit) {
    return one_zero ? ScriptValue::Integer(0) : ScriptValue::Null();
  }
  if (decision.held) {
    const bool grants = request.op == cluster::WriteOp::kLock || request.op == cluster::WriteOp::kExtend;
    Hold(*key, decision.owner, decision.token, decision.ttl_ms, grants);
  } else {
    Free(*key);
  }
  return one_zero ? ScriptValue::Integer(1) : ScriptValue::Integer(static_cast<int64_t>(decision.token));
}

std::vector<cluster::TxnWrite> ScriptKeys::Writes() const {
  std::vector<cluster::TxnWrite> writes(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    const Key& key = keys_[i];
    if (!key.written) continue;
    cluster::TxnWrite& write = writes[i];
    write.write = true;
    write.held = key.lease.held;
    if (!key.lease.held && counter_ > counter_at_start_) write.token = counter_;
    if (key.lease.held) {
      write.owner = key.lease.owner;
      write.token = key.lease.token;
      write.ttl_ms = key.lease.remaining_ms;
      write.grants = key.grants;
    }
  }
  return writes;
}

}  // namespace lockerd::server::script
