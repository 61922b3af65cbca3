// The `timeout` setting's bookkeeping: connections ordered by when they
// last made progress (bytes read, or reply bytes written), least recent
// first. Each connection embeds an IdleEntry; touching it moves it to the
// tail in O(1), so the head is always the connection idle the longest and
// one timer armed for the head's deadline is enough: no sweep over every
// client.
//
// It does not own the entries, read a clock or close anything: the server
// passes the time in, and decides what to do with an expired entry (close
// it, or touch it again when it is exempt, e.g. blocked in LOCK ... WAIT).
// Not thread-safe; lives on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lockerd::server {

// The hook a connection embeds. `owner` points back at the connection.
struct IdleEntry {
  explicit IdleEntry(void* owner_object) : owner(owner_object) {}
  IdleEntry(const IdleEntry&) = delete;
  IdleEntry& operator=(const IdleEntry&) = delete;

  void* owner;
  IdleEntry* prev = nullptr;
  IdleEntry* next = nullptr;
  int64_t active_ms = 0;  // When it last made progress.
  bool linked = false;
};

class IdleList {
 public:
  IdleList() = default;
  IdleList(const IdleList&) = delete;
  IdleList& operator=(const IdleList&) = delete;

  // Records progress at `now_ms`: links the entry, or moves it to the tail.
  // Times passed in must not go backwards (the loop's monotonic clock), so
  // the list stays ordered.
  void Touch(IdleEntry* entry, int64_t now_ms) {
    if (entry->linked) Unlink(entry);
    entry->active_ms = now_ms;
    entry->linked = true;
    entry->prev = tail_;
    entry->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = entry;
    } else {
      head_ = entry;
    }
    tail_ = entry;
    ++size_;
  }

  // Takes the entry out (the connection closes, or is exempt for good).
  void Remove(IdleEntry* entry) {
    if (entry->linked) Unlink(entry);
  }

  // The entry idle the longest, or null.
  IdleEntry* head() const { return head_; }
  size_t size() const { return size_; }
  bool empty() const { return head_ == nullptr; }

  // The head if it has been idle for at least `timeout_ms` at `now_ms`.
  IdleEntry* Expired(int64_t now_ms, int64_t timeout_ms) const {
    if (head_ == nullptr || now_ms - head_->active_ms < timeout_ms) return nullptr;
    return head_;
  }

 private:
  void Unlink(IdleEntry* entry) {
    if (entry->prev != nullptr) {
      entry->prev->next = entry->next;
    } else {
      head_ = entry->next;
    }
    if (entry->next != nullptr) {
      entry->next->prev = entry->prev;
    } else {
      tail_ = entry->prev;
    }
    entry->prev = nullptr;
    entry->next = nullptr;
    entry->linked = false;
    --size_;
  }

  IdleEntry* head_ = nullptr;
  IdleEntry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lockerd::server
