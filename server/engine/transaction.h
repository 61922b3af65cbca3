// One connection's MULTI ... EXEC and WATCH state (commands_transaction.cc).
// A Client holds one only while it is in a transaction or watches keys, so
// that the other connections pay a pointer for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lockerd::server {

struct Transaction {
  enum class State : uint8_t {
    kNone,     // Not in MULTI (maybe watching keys).
    kQueuing,  // Between MULTI and EXEC: commands are queued, answered QUEUED.
    // MULTI itself was refused (by ACL or for its arguments): every command
    // up to EXEC or DISCARD is refused without running, so that a client
    // told "error" is never left holding what it queued.
    kRefused,
  };
  State state = State::kNone;
  // A queued command was rejected (unknown, wrong arity, refused by ACL,
  // not offered inside MULTI, over a limit): EXEC answers EXECABORT.
  bool aborted = false;
  bool queued_writes = false;  // A queued command is a write (kFlagWrite).
  std::vector<std::vector<std::string>> queued;
  size_t queued_bytes = 0;
  // The distinct keys the queued commands name, in first-named order.
  std::vector<std::string> keys;

  // WATCH: each key's lease as this member saw it; EXEC runs nothing when
  // one differs in the transaction's majority snapshot.
  struct Watched {
    std::string key;
    bool held = false;
    std::string owner;
    uint64_t token = 0;
  };
  std::vector<Watched> watched;

  bool queuing() const { return state == State::kQueuing; }
  bool refused() const { return state == State::kRefused; }
  bool in_multi() const { return state != State::kNone; }
  // Back to no transaction; watched keys stay (UNWATCH, EXEC, DISCARD end them).
  void EndMulti() {
    state = State::kNone;
    aborted = false;
    queued_writes = false;
    queued.clear();
    queued_bytes = 0;
    keys.clear();
  }
};

}  // namespace lockerd::server
