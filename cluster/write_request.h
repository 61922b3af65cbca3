// What the command layer asks the cluster to write, and what it hears back.
// Every lock write (LOCK, EXTEND, RELEASE, UPDATE, DEL) is one of these, so
// the command layer does not know how many members there are.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/ballot.h"

namespace lockerd::cluster {

enum class WriteOp : uint8_t {
  kLock,     // Acquire, or renew when `owner` already holds the key.
  kExtend,   // Renew only if `owner` holds the key.
  kRelease,  // Free only if `owner` holds the key.
  kUpdate,   // Hand the lease to `new_owner`, keeping token and deadline.
  kDelete,   // Free whoever holds the key (DEL).
  kSwap,     // SET key new IFEQ owner: hand the lease to `new_owner` (same
             // token), with `ttl_ms` (0: keep the deadline).
  kRollback,  // Internal: undo a grant that failed after some members took it.
  // Internal: write the key's state as a majority has it again, at a fresh
  // ballot, under this member's configuration (the catch-up after a
  // membership change; nothing when no member has the key).
  kCarry,
};

struct WriteRequest {
  uint64_t request_id = 0;  // Chosen by the caller; 0 means nobody waits.
  WriteOp op = WriteOp::kLock;
  std::string key;
  std::string owner;
  std::string new_owner;
  int64_t ttl_ms = 0;
  // kLock only: SET NX, with Redis's rule: refused whenever the key is
  // held, by this owner too (no renewal). Many users send a fixed value
  // (a host name, "1", a task id shared by forked workers); with LOCK's
  // renewal, two of them would both hold the key.
  bool only_if_free = false;
  // kRollback only: the ballot of the failed grant. Only that write is
  // undone, never a later one that happens to carry the same owner or token.
  Ballot rollback_ballot;
};

enum class WriteOutcome : uint8_t {
  kDone,      // LOCK/EXTEND/UPDATE: `token`; RELEASE/DEL: freed.
  kRefused,   // Held by another owner, or `owner` does not hold the key.
  kNoQuorum,  // No majority answered in time; `detail` says what happened.
  kTryAgain,  // Members are in restart quarantine; `detail` says how long.
};

struct WriteResult {
  uint64_t request_id = 0;
  WriteOutcome outcome = WriteOutcome::kRefused;
  uint64_t token = 0;
  // kRefused LOCK: how long the holder's lease had left when read (so a
  // waiter can look again then, even if this member misses the release).
  int64_t holder_remaining_ms = 0;
  std::string detail;
};

}  // namespace lockerd::cluster
