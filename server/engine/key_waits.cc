// Key waits: clients blocked in LOCK ... WAIT or WAIT on a key, woken
// first come first served when this member sees the key freed (or a
// recheck is due), and the rounds they run on waking (wait_flights_).
#include "server/engine/engine.h"

#include <algorithm>
#include <utility>

#include "base/errors.h"
#include "base/check.h"
#include "server/config/limits.h"
#include "server/script/script_reply.h"

namespace lockerd::server {

void Engine::UnwatchIfUnused(const std::string& key) {
  if (!waiters_.HasWaiters(key) && !wait_flights_.contains(key)) node_.UnwatchKey(key);
}

bool Engine::StartWait(Client& client, Waiter waiter, bool front_of_line) {
  const std::string key = waiter.key;
  if (front_of_line) {
    waiters_.AddFront(std::move(waiter));
  } else {
    if (!waiters_.Add(std::move(waiter), config_.maxwaiters_per_key)) return false;
    ++stats_.waits_started;
  }
  node_.WatchKey(key);
  client.blocked = BlockKind::kWait;
  return true;
}

void Engine::StartObserve(Client& client, std::string_view key, int64_t deadline_ms) {
  Waiter waiter{client.id(), std::string(key), WaiterKind::kObserve, deadline_ms, {}};
  if (!StartWait(client, std::move(waiter), false)) ReplyError(client, errors::kTooManyWaiters);
}

void Engine::ForgetWait(const Waiter& waiter) {
  if (!waiters_.HasWaiters(waiter.key)) {
    UnwatchIfUnused(waiter.key);
  } else if (waiter.kind == WaiterKind::kAcquire) {
    // The head of the line may have left while the key was free: let the
    // next one try (ServeReadyKeys checks that the key is really free).
    MarkReady(waiter.key, /*freed=*/false);
  }
}

void Engine::MarkReady(const std::string& key, bool freed) {
  const auto [it, inserted] = ready_keys_.emplace(key, freed);
  if (inserted) {
    ready_order_.push_back(key);
  } else {
    it->second = it->second || freed;
  }
}

bool Engine::MustQueue(std::string_view key, std::string_view owner, Time now) const {
  if (!waiters_.HasAcquirers(key)) return false;
  // The holder renewing its own lease is not jumping the queue.
  const cluster::Register* reg = node_.table().FindHeld(key, now.mono_ms);
  return reg == nullptr || reg->owner != owner;
}

void Engine::QueueBehindWaiters(Client& client, cluster::WriteRequest request,
                                int64_t deadline_ms) {
  Waiter waiter{client.id(), request.key, WaiterKind::kAcquire, deadline_ms, std::move(request)};
  if (!StartWait(client, std::move(waiter), /*front_of_line=*/false)) {
    ReplyError(client, errors::kTooManyWaiters);
  }
}

void Engine::ServeReadyKeys(Time now) {
  if (ready_order_.empty()) return;
  std::vector<std::string> keys;
  keys.swap(ready_order_);
  cluster::StringMap<bool> ready;
  ready.swap(ready_keys_);
  for (const std::string& key : keys) {
    // A key only suspected free that is held here is left alone. A key this
    // member saw freed wakes its waiters even if it is held again already
    // (another member's client may take it within the same loop turn): the
    // observers asked to hear of the release, and the first acquirer runs a
    // round that is refused and puts it back at the head of the line.
    const bool freed = ready.find(key)->second;
    if (!freed && node_.table().FindHeld(key, now.mono_ms) != nullptr) continue;
    std::vector<Waiter> woken = waiters_.TakeWoken(key);
    UnwatchIfUnused(key);
    for (Waiter& waiter : woken) {
      Client* client = FindClient(waiter.client_id);
      if (client == nullptr) continue;
      ++stats_.waits_woken;
      client->blocked = BlockKind::kNone;
      Attention(*client);
      if (waiter.kind == WaiterKind::kObserve) {
        client->writer().WriteInteger(1);
      } else {
        SubmitLockWait(*client, std::move(waiter.request), waiter.deadline_ms,
                       /*front_of_line=*/true, now);
      }
    }
  }
}

}  // namespace lockerd::server
