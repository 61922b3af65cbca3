// The commands a script may call (redis.call / redis.pcall), run against
// the snapshot of its declared keys: a majority's registers when the script
// runs through the cluster, this member's table for EVAL_RO. Writes change
// the snapshot (later reads in the script see them) and are handed to the
// cluster as one TxnWrite per key when the script ends.
//
// Keys are leases here as everywhere in lockerd: a value is a lease's owner,
// every value has a ttl, and every new holder gets a fresh fencing token.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/txn.h"
#include "server/script/script_value.h"

namespace lockerd::server::script {

struct ScriptKeysOptions {
  int64_t max_lease_ms = 60'000;
  double drift = 0.01;
  bool read_only = false;  // EVAL_RO / EVALSHA_RO: writes are refused.
  // Leases this member may still take on (`maxkeys`): a script that would
  // hold more keys than that gets -OOM, as a LOCK would.
  size_t new_keys_allowed = SIZE_MAX;
  size_t maxkeys = SIZE_MAX;
  // `max-key-bytes`: the longest owner a script may write, as for LOCK
  // (declared keys are checked before the script runs).
  size_t max_owner_bytes = 4096;
};

class ScriptKeys {
 public:
  ScriptKeys(const cluster::TxnView& view, ScriptKeysOptions options);
  // index_ points into names_: not copyable, not movable.
  ScriptKeys(const ScriptKeys&) = delete;
  ScriptKeys& operator=(const ScriptKeys&) = delete;

  // One command; an error reply is returned as a kError value.
  ScriptValue Call(std::span<const std::string> args);
  // What the script did to each key, in the view's key order.
  std::vector<cluster::TxnWrite> Writes() const;

 private:
  struct Key {
    cluster::LeaseView lease;
    bool written = false;
    bool grants = false;
  };

  // The declared key named `name`; null (and `error` set) when undeclared.
  Key* Find(std::string_view name, ScriptValue* error);
  ScriptValue Get(std::span<const std::string> args);
  ScriptValue MGet(std::span<const std::string> args);
  ScriptValue StrLen(std::span<const std::string> args);
  ScriptValue GetRange(std::span<const std::string> args);
  ScriptValue Set(std::span<const std::string> args);
  ScriptValue Del(std::span<const std::string> args);
  ScriptValue Exists(std::span<const std::string> args);
  ScriptValue Expire(std::span<const std::string> args, int64_t unit_ms);
  ScriptValue Ttl(std::span<const std::string> args, int64_t unit_ms);
  ScriptValue ExpireTime(std::span<const std::string> args, int64_t unit_ms);
  ScriptValue LockInfo(std::span<const std::string> args);
  // LOCK, EXTEND, RELEASE, UPDATE, DELIFEQ: the cluster's own decision rules.
  ScriptValue LockWrite(std::span<const std::string> args);
  void Hold(Key& key, std::string_view owner, uint64_t token, int64_t ttl_ms, bool grants);
  void Free(Key& key);
  uint64_t NewToken();
  // False (and `error` set) when holding one more key would pass maxkeys.
  bool MayHoldAnother(const Key& key, ScriptValue* error);

  ScriptKeysOptions options_;
  std::vector<std::string> names_;
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<Key> keys_;
  uint64_t counter_ = 0;  // The largest token seen or issued.
  uint64_t counter_at_start_ = 0;
  int64_t wall_ms_ = 0;
  size_t new_keys_ = 0;  // Keys this script made held that were free.
};

}  // namespace lockerd::server::script
