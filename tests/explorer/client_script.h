// What each client of the explorer asks for, in order: its owner name (kept
// for every acquire, as a client that uses its host name does) and its
// writes. The explorer chooses when each write is sent and through which
// member; the script only fixes what is sent.
//
//   "A: lock k0 500, release k0, lock k0 500; C: lock k0 500, release k0"
//
// A write is `lock`, `setnx` (SET NX: a lock that never renews), `extend`,
// `release` or `del` (DEL: frees whoever holds), then a key (k0, k1, ...; k0
// by default) and for lock, setnx and extend a ttl in ms (500 by default).
// Two clients may share an owner name (as Celery's workers share a task
// id). It does not model scripts (cluster transactions) or blocking waits.
//
// A step may also be an operator's membership change (issue 18;
// cluster/membership_change.h): `add m3` (a voter), `add-learner m3`,
// `remove m0`, `promote m3`, `demote m1` or `settle`, sent like a write,
// one at a time, each waiting for its answer (which the checker ignores:
// only what the lock clients are told is judged). `O: add m3, remove m0`
// grows a cluster by the process m3 and then shrinks it by m0.
//
// Any step may end with `@m<N>` (or `@<N>`): it is sent through member N
// only; without, through whichever member the explorer chooses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/membership_change.h"
#include "cluster/write_request.h"

namespace lockerd::explorer {

struct ScriptedWrite {
  cluster::WriteOp op = cluster::WriteOp::kLock;
  size_t key = 0;  // Index: key k<key>.
  int64_t ttl_ms = 500;
  bool only_if_free = false;  // setnx: SET key owner NX PX ttl (a LOCK that never renews).
  // A membership change instead of a write: its kind and the member it
  // names (`op`, `key` and `ttl_ms` are then unused).
  std::optional<cluster::MembershipRequest::Kind> change;
  cluster::MemberId member = 0;
  // Sent through this member only; nothing: through any.
  std::optional<cluster::MemberId> via;
};

struct ClientScript {
  std::string owner;
  std::vector<ScriptedWrite> writes;
};

// Parses a script, or a preset's name (ScriptPresets); nothing, with
// `*problem` set, when it is malformed or names a key of `keys_count` or
// more, or a member of `processes` or more.
std::optional<std::vector<ClientScript>> ParseScripts(std::string_view text, size_t keys_count,
                                                      size_t processes, std::string* problem);

// "name = script" lines of the presets, for --help.
std::string ScriptPresets();

std::string KeyName(size_t key);
// "add m3", "remove m0", "settle": a change step's words.
std::string ChangeText(const ScriptedWrite& write);

}  // namespace lockerd::explorer
