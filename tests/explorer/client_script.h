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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/write_request.h"

namespace lockerd::explorer {

struct ScriptedWrite {
  cluster::WriteOp op = cluster::WriteOp::kLock;
  size_t key = 0;  // Index: key k<key>.
  int64_t ttl_ms = 500;
  bool only_if_free = false;  // setnx: SET key owner NX PX ttl (a LOCK that never renews).
};

struct ClientScript {
  std::string owner;
  std::vector<ScriptedWrite> writes;
};

// Parses a script, or a preset's name (ScriptPresets); nothing, with
// `*problem` set, when it is malformed or names a key of `keys_count` or
// more.
std::optional<std::vector<ClientScript>> ParseScripts(std::string_view text, size_t keys_count,
                                                      std::string* problem);

// "name = script" lines of the presets, for --help.
std::string ScriptPresets();

std::string KeyName(size_t key);

}  // namespace lockerd::explorer
