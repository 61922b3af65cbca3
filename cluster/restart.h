// What a member keeps across a clean stop, what it finds when it starts,
// and what it reports about how it started. The rules that turn what it
// found into what it does live in node_restart.cc (Node::Start), so that
// the server and the simulator restart through the same code
// (CLUSTER-SAFETY.md, "Restarts").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/ballot.h"
#include "cluster/messages.h"

namespace lockerd::cluster {

// One register as a clean stop saves it: free ones too, with their ballots,
// so that a released key is not forgotten (an older copy of its lease on
// another member would otherwise win a later round).
struct SavedRegister {
  std::string key;
  Ballot promised;
  Ballot accepted;
  bool held = false;
  std::string owner;
  uint64_t token = 0;
  // Held: the lease's time left. Free: how long its tombstone had left.
  int64_t remaining_ms = 0;
};

struct NodeState {
  uint64_t token_counter = 0;
  Ballot ballot_floor;  // At least every ballot the member promised or used.
  std::vector<SavedRegister> registers;
  // A member shut down cleanly while still in quarantine (or still
  // recovering after losing its memory) has not recovered what it lost:
  // the quarantine (what was left of it) and the recovery carry over.
  int64_t quarantine_left_ms = 0;
  bool needs_sync = false;
  // With the log: this member promised no round above this. It may have
  // answered promises up to it before they were synced, so a restart from
  // the log raises every promise above it (Node::Start); 0: nothing to
  // raise (a clean stop saves every promise).
  uint64_t round_reserve = 0;
};

// The configuration a member adopted and its acceptor state of the
// configuration register (membership_change.h). Kept apart from the
// registers, and durably whatever `appendonly` says: a member must never
// forget a configuration it adopted (it would vote in the old one's rounds)
// nor a promise or accept of the register. Written before anything the
// member sends after a change of it leaves (Node::TakeMembershipState).
struct MembershipState {
  Membership adopted;
  Ballot promised;
  Ballot accepted;
  ConfigValue value;
  // Started with an empty dir (Node::Join), and not yet sure the
  // configuration it adopted is the cluster's: a member that missed later
  // changes (down while it was removed) may have told it an older one. Until
  // a recovery of it counts a majority of that configuration's others, or
  // every other member of it has answered, it does not take the
  // whole-cluster rule (review of slice 3: a wiped member and one that
  // missed its removal were a majority of an old configuration).
  bool joined = false;
  bool operator==(const MembershipState&) const = default;
};

// What a member finds when it starts.
struct StartFacts {
  // The last run did not stop cleanly (its running marker is still there:
  // a crash, kill -9, SHUTDOWN NOSAVE), or its state cannot be read: what
  // it promised is lost.
  bool unclean = false;
  // The member list differs from the one remembered and the operator said
  // so on purpose (the stop-all procedure): a lease granted under the old
  // list may live on, so it starts as after a crash.
  bool members_changed = false;
  // The last clean stop's state, when there is one.
  std::optional<NodeState> saved;
  // The configuration it adopted and its configuration register, when it
  // ever changed from the member list's (kept through crashes too).
  std::optional<MembershipState> membership;
  // How long the member was down, measured on CLOCK_BOOTTIME within one
  // boot of the machine. Nothing after a reboot: the downtime is unknown
  // and saved leases are kept whole. Never from the wall clock.
  std::optional<int64_t> downtime_ms;
  // The wall clock's idea of the downtime. Only the deliberately broken
  // variant of the simulator's self-test reads it (BrokenRules).
  int64_t wall_downtime_ms = 0;
  // With nothing saved: the cluster is known to be new (a tool or test
  // that starts every member from nothing), so the first-start check may be
  // skipped. Without it, a member with an empty dir in a cluster first asks
  // a majority of the others whether anything was ever written.
  bool new_cluster = false;
};

enum class StartKind {
  kFirst,              // Nothing saved, nothing lost: a new member.
  kClean,              // A clean stop's state, the downtime known.
  kCleanAfterReboot,   // A clean stop's state, kept whole (downtime unknown).
  kUnclean,            // Memory lost: quarantine, and in a cluster, recovery.
};

struct StartReport {
  StartKind kind = StartKind::kFirst;
  size_t registers_loaded = 0;
  size_t leases_loaded = 0;
  int64_t quarantine_ms = 0;  // From the start; 0 when it votes at once.
  bool recovering = false;    // Must learn ballots and counters first...
  bool checking_new = false;  // ...or, on a first start, that the cluster is new.
};

const char* StartKindName(StartKind kind);

}  // namespace lockerd::cluster
