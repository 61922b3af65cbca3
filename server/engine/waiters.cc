#include "server/engine/waiters.h"

#include "base/check.h"

namespace lockerd::server {

bool WaiterQueue::Add(Waiter waiter, size_t per_key_max) {
  if (const auto it = lines_.find(waiter.key);
      it != lines_.end() && it->second.size() >= per_key_max) {
    return false;
  }
  Insert(std::move(waiter), /*front=*/false);
  return true;
}

void WaiterQueue::AddFront(Waiter waiter) { Insert(std::move(waiter), /*front=*/true); }

void WaiterQueue::Insert(Waiter waiter, bool front) {
  CHECK(!by_client_.contains(waiter.client_id));
  auto line = lines_.find(waiter.key);
  if (line == lines_.end()) line = lines_.emplace(waiter.key, Line{}).first;
  const uint64_t client_id = waiter.client_id;
  const int64_t deadline_ms = waiter.deadline_ms;
  Line& entry = line->second;
  std::list<Waiter>& queue = waiter.kind == WaiterKind::kAcquire ? entry.acquirers : entry.observers;
  const auto position = queue.insert(front ? queue.begin() : queue.end(), std::move(waiter));
  by_client_.emplace(client_id, Place{&entry, &queue, position});
  if (deadline_ms != kNoDeadline) timeouts_.emplace(deadline_ms, client_id);
}

void WaiterQueue::Detach(std::unordered_map<uint64_t, Place>::iterator place,
                         const Waiter& waiter) {
  Line& entry = *place->second.line;
  if (waiter.deadline_ms != kNoDeadline) timeouts_.erase({waiter.deadline_ms, waiter.client_id});
  place->second.queue->erase(place->second.position);
  by_client_.erase(place);
  if (entry.size() == 0) lines_.erase(waiter.key);
}

std::optional<Waiter> WaiterQueue::Remove(uint64_t client_id) {
  const auto place = by_client_.find(client_id);
  if (place == by_client_.end()) return std::nullopt;
  Waiter waiter = std::move(*place->second.position);
  Detach(place, waiter);
  return waiter;
}

std::vector<Waiter> WaiterQueue::TakeWoken(std::string_view key) {
  std::vector<Waiter> woken;
  const auto line = lines_.find(key);
  if (line == lines_.end()) return woken;
  std::vector<uint64_t> ids;
  for (const Waiter& waiter : line->second.observers) ids.push_back(waiter.client_id);
  if (!line->second.acquirers.empty()) ids.push_back(line->second.acquirers.front().client_id);
  for (const uint64_t id : ids) woken.push_back(*Remove(id));  // The last may erase the line.
  return woken;
}

std::vector<Waiter> WaiterQueue::TakeTimedOut(int64_t now_ms) {
  std::vector<Waiter> timed_out;
  while (!timeouts_.empty() && timeouts_.begin()->first <= now_ms) {
    timed_out.push_back(*Remove(timeouts_.begin()->second));
  }
  return timed_out;
}

std::optional<int64_t> WaiterQueue::NextDeadlineMs() const {
  if (timeouts_.empty()) return std::nullopt;
  return timeouts_.begin()->first;
}

bool WaiterQueue::HasWaiters(std::string_view key) const { return lines_.contains(key); }

bool WaiterQueue::HasAcquirers(std::string_view key) const {
  const auto it = lines_.find(key);
  return it != lines_.end() && !it->second.acquirers.empty();
}

}  // namespace lockerd::server
