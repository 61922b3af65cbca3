// The member's registers: for each key, the highest ballot it promised, the
// ballot and state it last accepted, and the lease (owner, token, deadline on
// this member's monotonic clock). This is what a member knows; the rules for
// changing it live in acceptor.cc.
//
// Expiry is lazy (a write finds an expired lease free) and active (an
// ExpiryHeap says which register is due next, so expiring costs in proportion
// to what expires). A free register is kept `idle_ms` (a tombstone, so that a
// member still reports the release to a later round), then erased, and its
// ballots are folded into a table-wide floor that no new register starts
// below: a member's highest ballot for a key never goes down.
//
// Registers live in fixed slots that never move, so KEYS and SCAN can walk
// them by slot number: a key present for a whole SCAN is returned once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/ballot.h"
#include "cluster/chunked_vector.h"
#include "cluster/compact_string.h"
#include "cluster/expiry_heap.h"
#include "cluster/key_index.h"
#include "cluster/string_hash.h"

namespace lockerd::cluster {

// Fields are ordered to pack: a million leases are a million of these.
struct Register {
  Ballot promised;  // Highest ballot promised or accepted.
  Ballot accepted;  // Ballot of the state below; zero when never written.
  CompactString owner;
  uint64_t token = 0;
  // While held: the last millisecond of the lease on this member's clock.
  int64_t deadline_ms = 0;
  // When this member applied the state it holds (its accepted ballot's
  // value), on its clock: a one-round-trip write reaches no further than
  // max-lease-ms from there (Coordinator::TryFastAttempt).
  int64_t written_ms = 0;
  // When the expiry heap next wakes for it: while free, when the tombstone
  // goes; while held, a deadline + 1 at or before this lease's own (a
  // renewal leaves the wake of the lease it renews in place).
  int64_t wake_ms = 0;
  uint32_t slot = 0;        // Where the table keeps it; the table's business.
  bool held = false;

  // Clock readings are whole milliseconds, and a lease applied at reading t
  // may have begun just before t+1. Holding through the whole millisecond
  // `deadline_ms` = t + ttl guarantees at least ttl ms of this member's clock,
  // never less (Redis, too, expires a key only when now > its expiry).
  bool HeldAt(int64_t now_ms) const { return held && now_ms <= deadline_ms; }
  int64_t RemainingMs(int64_t now_ms) const { return HeldAt(now_ms) ? deadline_ms - now_ms : 0; }
};

class LeaseTable {
 public:
  // `hash_key` keys the hashing of client-chosen keys (see siphash.h).
  explicit LeaseTable(int64_t idle_ms, HashKey hash_key = {})
      : idle_ms_(idle_ms), index_(KeyOfSlot{this}, hash_key), watched_(16, StringHash{hash_key}) {}
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;
  ~LeaseTable();

  // Reads: never change the table. A lease past its deadline reads as free.
  const Register* Find(std::string_view key) const;
  const Register* FindHeld(std::string_view key, int64_t now_ms) const;

  // For writes: the register for `key`, created free at the ballot floor if
  // absent. A lease past its deadline is expired first (lazy expiry).
  Register& FindOrCreate(std::string_view key, int64_t now_ms);

  // The only ways a register changes, so that the indexes stay right.
  void SetPromised(Register& reg, Ballot ballot);
  void Hold(Register& reg, Ballot accepted, std::string_view owner, uint64_t token,
            int64_t deadline_ms);
  void Free(Register& reg, Ballot accepted, int64_t now_ms);
  // A free register restored after a restart, whose tombstone has
  // `keep_ms` left.
  void RestoreFree(Register& reg, Ballot accepted, int64_t now_ms, int64_t keep_ms);
  int64_t idle_ms() const { return idle_ms_; }
  // For registers freed from now on (a member alone keeps no tombstones;
  // one that joins others must).
  void SetIdleMs(int64_t idle_ms) { idle_ms_ = idle_ms; }

  // Active expiry: handles registers due at `now_ms`, at most `budget` of
  // them. Returns true if more are due (call again on the next loop turn).
  bool ExpireDue(int64_t now_ms, size_t budget);
  std::optional<int64_t> NextWakeMs() const { return heap_.NextWakeMs(); }

  // Keys someone waits on. When a watched key's lease ends (release, delete,
  // expiry) its name is queued for TakeFreedKeys().
  void Watch(std::string_view key) { watched_.emplace(key); }
  void Unwatch(std::string_view key);
  std::vector<std::string> TakeFreedKeys();

  // Slot walk for KEYS and SCAN. Slots in [0, slot_limit()) are either empty
  // (nullptr) or hold a key and its register.
  size_t slot_limit() const { return slots_used_; }
  const CompactString* KeyAt(size_t slot) const;
  const Register* RegisterAt(size_t slot) const;

  size_t held_count() const { return held_count_; }
  size_t registers_count() const { return index_.size(); }
  uint64_t expired_count() const { return expired_count_; }
  Ballot ballot_floor() const { return ballot_floor_; }
  void RaiseBallotFloor(Ballot ballot);
  // Every register promises at least `ballot`, and so does every register
  // created from now on (a membership change's floor: node_membership.cc).
  void RaisePromises(Ballot ballot);

  // Change tracking, for the append-only log: while on, every register
  // whose promise or accepted state changes is noted (an expiry is not a
  // change: the state it ends is already recorded with its deadline).
  void TrackChanges(bool on) { tracking_changes_ = on; }
  // The slots changed since the last call, each once, in slot order.
  std::vector<uint32_t> TakeChangedSlots();
  // Whether a register's accepted state (its lease or its freedom) changed
  // since the last call, not only a promise.
  bool TakeStatesChanged();
  bool states_changed() const { return states_changed_; }
  // The registers erased (a tombstone's end) since the last call, with the
  // ballots they had: a slot changed and then erased before the call
  // would otherwise leave its last record (a lease) standing.
  struct Erased {
    std::string key;
    Ballot promised;
    Ballot accepted;
  };
  std::vector<Erased> TakeErased();

 private:
  struct Slot {
    Register reg;
    CompactString key;
    uint32_t next_free = 0;
    bool used = false;
  };
  // Room for a slot, constructed only when the slot is first used: a table
  // that holds a few keys does not build (and later destroy) thousands.
  struct SlotStorage {
    alignas(Slot) std::byte bytes[sizeof(Slot)];
  };

  Slot& SlotRef(uint32_t slot) const {
    return *std::launder(reinterpret_cast<Slot*>(storage_[slot].bytes));
  }
  uint32_t AllocateSlot();
  void Erase(uint32_t slot);
  void Expire(uint32_t slot, int64_t now_ms);
  // Free's work, without noting a change (an expiry).
  void EndLease(Register& reg, Ballot accepted, int64_t now_ms);
  void NoteFreed(std::string_view key);
  void NoteChanged(const Register& reg, bool promise_only = false);

  int64_t idle_ms_;
  // Slots [0, slots_used_) are built. Mutable: SlotRef hands a slot out of
  // const methods, as the index's key reader needs.
  mutable ChunkedVector<SlotStorage> storage_;
  // Key -> slot; keys are read from the slots themselves.
  struct KeyOfSlot {
    const LeaseTable* table;
    std::string_view operator()(uint32_t slot) const { return table->SlotRef(slot).key; }
  };
  KeyIndex<KeyOfSlot> index_;
  uint32_t free_head_ = UINT32_MAX;
  size_t slots_used_ = 0;
  ExpiryHeap heap_;
  size_t held_count_ = 0;
  uint64_t expired_count_ = 0;
  Ballot ballot_floor_;
  StringSet watched_;
  std::vector<std::string> freed_keys_;
  bool tracking_changes_ = false;
  std::vector<uint32_t> changed_slots_;
  bool states_changed_ = false;
  std::vector<Erased> erased_;
};

}  // namespace lockerd::cluster
