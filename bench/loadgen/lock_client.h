// One load-generator client's handle on a lock system, sending what that
// system's lock libraries send:
// - lockerd: LOCK / RELEASE / EXTEND (LOCK ... WAIT to block);
// - redis-server: SET NX PX, release and extend as compare-then-act
//   EVALSHA scripts (redis-py's and node-redis' lock recipes);
// - Redlock: the same on every server, won on a majority, released on all
//   (node-redlock);
// - etcd: its v3 lock API through the JSON gateway, under one lease per
//   client (etcdctl lock's session).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/connection.h"

namespace lockerd::bench {

enum class System { kLockerd, kRedis, kRedlock, kEtcd };

// 1: done (acquired, released, renewed); 0: refused, the key is held by
// another owner; -1: an error (including a link lost mid-request).
using Outcome = int;

class LockClient {
 public:
  using Done = std::function<void(Outcome)>;
  // The handle names the hold for Release/Extend: the owner, or etcd's key.
  using Acquired = std::function<void(Outcome, std::string handle)>;

  virtual ~LockClient() = default;
  // Runs once before the load (scripts, sessions).
  virtual void Prepare(std::function<void()> ready) { ready(); }
  // Takes `key` for `owner`; with `wait`, blocks until it is free.
  virtual void Acquire(const std::string& key, const std::string& owner, bool wait, Acquired done) = 0;
  virtual void Release(const std::string& key, const std::string& handle, Done done) = 0;
  // Renews the hold to its full time to live.
  virtual void Extend(const std::string& key, const std::string& handle, Done done) = 0;
  // A round trip that does no lock work (PING), to measure the link.
  virtual void Ping(Done done) { done(-1); }
  virtual bool CanWait() const = 0;
  virtual bool CanTryOnce() const { return true; }  // Refuse at once when held.
  virtual bool CanExtend() const { return true; }
  virtual bool CanPing() const { return true; }

  // One client of `system` over `connections` (one per server for Redlock,
  // otherwise one).
  static std::unique_ptr<LockClient> Make(System system, std::vector<Connection*> connections, int ttl_ms,
                                          int wait_ms);
};

}  // namespace lockerd::bench
