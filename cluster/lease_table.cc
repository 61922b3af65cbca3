#include "cluster/lease_table.h"

#include <algorithm>
#include "base/check.h"

namespace lockerd::cluster {

const Register* LeaseTable::Find(std::string_view key) const {
  const uint32_t slot = index_.Find(key);
  return slot == index_.kNone ? nullptr : &SlotRef(slot).reg;
}

const Register* LeaseTable::FindHeld(std::string_view key, int64_t now_ms) const {
  const Register* reg = Find(key);
  return reg != nullptr && reg->HeldAt(now_ms) ? reg : nullptr;
}

Register& LeaseTable::FindOrCreate(std::string_view key, int64_t now_ms) {
  if (const uint32_t found = index_.Find(key); found != index_.kNone) {
    Slot& slot = SlotRef(found);
    if (slot.reg.held && !slot.reg.HeldAt(now_ms)) Expire(found, now_ms);
    return slot.reg;
  }
  const uint32_t id = AllocateSlot();
  Slot& slot = SlotRef(id);
  slot.key.assign(key);
  slot.used = true;
  slot.reg = Register{};
  slot.reg.promised = ballot_floor_;
  slot.reg.slot = id;
  index_.Insert(id, slot.key);
  // A new register is free: it lives as long as a tombstone unless written.
  slot.reg.wake_ms = now_ms + idle_ms_;
  heap_.Set(id, slot.reg.wake_ms);
  return slot.reg;
}

void LeaseTable::SetPromised(Register& reg, Ballot ballot) {
  if (ballot <= reg.promised) return;
  reg.promised = ballot;
  NoteChanged(reg, /*promise_only=*/true);
}

void LeaseTable::NoteChanged(const Register& reg, bool promise_only) {
  if (!tracking_changes_) return;
  changed_slots_.push_back(reg.slot);
  if (!promise_only) states_changed_ = true;
}

bool LeaseTable::TakeStatesChanged() {
  const bool changed = states_changed_;
  states_changed_ = false;
  return changed;
}

std::vector<LeaseTable::Erased> LeaseTable::TakeErased() {
  std::vector<Erased> erased;
  erased.swap(erased_);
  return erased;
}

std::vector<uint32_t> LeaseTable::TakeChangedSlots() {
  std::vector<uint32_t> slots;
  slots.swap(changed_slots_);
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return slots;
}

void LeaseTable::Hold(Register& reg, Ballot accepted, std::string_view owner, uint64_t token,
                      int64_t deadline_ms) {
  NoteChanged(reg);
  const bool renewal = reg.held;
  if (!reg.held) ++held_count_;
  reg.held = true;
  reg.accepted = accepted;
  reg.promised = std::max(reg.promised, accepted);
  reg.owner.assign(owner);
  reg.token = token;
  reg.deadline_ms = deadline_ms;
  // Due once the deadline has passed. A renewal leaves the earlier wake of
  // the lease it renews in place (ExpireDue finds the lease still held then
  // and moves it on), so that renewing costs no heap work.
  if (!renewal || reg.wake_ms > deadline_ms + 1) {
    reg.wake_ms = deadline_ms + 1;
    heap_.Set(reg.slot, reg.wake_ms);
  }
}

void LeaseTable::Free(Register& reg, Ballot accepted, int64_t now_ms) {
  NoteChanged(reg);
  EndLease(reg, accepted, now_ms);
}

void LeaseTable::EndLease(Register& reg, Ballot accepted, int64_t now_ms) {
  const bool was_held = reg.held;
  if (was_held) --held_count_;
  reg.held = false;
  reg.accepted = accepted;
  reg.promised = std::max(reg.promised, accepted);
  reg.owner.clear();
  reg.wake_ms = now_ms + idle_ms_;
  heap_.Set(reg.slot, reg.wake_ms);
  if (was_held) NoteFreed(SlotRef(reg.slot).key);
}

void LeaseTable::RestoreFree(Register& reg, Ballot accepted, int64_t now_ms, int64_t keep_ms) {
  Free(reg, accepted, now_ms);
  reg.wake_ms = now_ms + std::max<int64_t>(keep_ms, 0);
  heap_.Set(reg.slot, reg.wake_ms);
}

void LeaseTable::Expire(uint32_t id, int64_t now_ms) {
  Register& reg = SlotRef(id).reg;
  ++expired_count_;
  // An expiry is not a write: the accepted ballot stays, the lease just
  // ends (and a record of the lease says as much: not a change).
  EndLease(reg, reg.accepted, now_ms);
}

bool LeaseTable::ExpireDue(int64_t now_ms, size_t budget) {
  for (size_t done = 0; done < budget; ++done) {
    if (heap_.empty() || heap_.top_wake_ms() > now_ms) return false;
    const uint32_t id = heap_.top_slot();
    Register& reg = SlotRef(id).reg;
    if (reg.HeldAt(now_ms)) {
      reg.wake_ms = reg.deadline_ms + 1;  // Renewed since this wake was set.
      heap_.Set(id, reg.wake_ms);
    } else if (reg.held) {
      Expire(id, now_ms);
    } else {
      Erase(id);
    }
  }
  return !heap_.empty() && heap_.top_wake_ms() <= now_ms;
}

void LeaseTable::RaiseBallotFloor(Ballot ballot) { ballot_floor_ = std::max(ballot_floor_, ballot); }

void LeaseTable::Unwatch(std::string_view key) {
  if (const auto it = watched_.find(key); it != watched_.end()) watched_.erase(it);
}

std::vector<std::string> LeaseTable::TakeFreedKeys() {
  std::vector<std::string> keys;
  keys.swap(freed_keys_);
  return keys;
}

void LeaseTable::NoteFreed(std::string_view key) {
  if (!watched_.empty() && watched_.contains(key)) freed_keys_.emplace_back(key);
}

const CompactString* LeaseTable::KeyAt(size_t slot) const {
  if (slot >= slots_used_) return nullptr;
  const Slot& s = SlotRef(static_cast<uint32_t>(slot));
  return s.used ? &s.key : nullptr;
}

void LeaseTable::RaisePromises(Ballot ballot) {
  RaiseBallotFloor(ballot);
  for (uint32_t slot = 0; slot < slots_used_; ++slot) {
    Slot& s = SlotRef(slot);
    if (s.used) SetPromised(s.reg, ballot);
  }
}

const Register* LeaseTable::RegisterAt(size_t slot) const {
  if (slot >= slots_used_) return nullptr;
  const Slot& s = SlotRef(static_cast<uint32_t>(slot));
  return s.used ? &s.reg : nullptr;
}

uint32_t LeaseTable::AllocateSlot() {
  if (free_head_ != UINT32_MAX) {
    const uint32_t id = free_head_;
    free_head_ = SlotRef(id).next_free;
    return id;
  }
  const auto id = static_cast<uint32_t>(slots_used_);
  new (storage_.AppendUnwritten().bytes) Slot();
  ++slots_used_;
  return id;
}

LeaseTable::~LeaseTable() {
  for (size_t id = 0; id < slots_used_; ++id) SlotRef(static_cast<uint32_t>(id)).~Slot();
}

void LeaseTable::Erase(uint32_t id) {
  Slot& slot = SlotRef(id);
  CHECK(slot.used);
  CHECK(!slot.reg.held);
  if (tracking_changes_) erased_.push_back({std::string(slot.key.view()), slot.reg.promised, slot.reg.accepted});
  RaiseBallotFloor(slot.reg.promised);
  heap_.Remove(id);
  index_.Erase(id);
  slot.used = false;
  slot.reg = Register{};
  slot.key.clear();
  slot.next_free = free_head_;
  free_head_ = id;
}

}  // namespace lockerd::cluster
