// The end of a loop turn (EndTurn, the driver contract of
// turn_driver.h), timers, and the clients that need the driver's
// attention.
#include "server/engine/engine.h"

#include <algorithm>
#include <utility>

#include "base/errors.h"
#include "base/check.h"
#include "server/config/limits.h"
#include "server/script/script_reply.h"

namespace lockerd::server {

void Engine::Tick(Time now) {
  node_.Tick(now);
  Drain(now);
  while (!rechecks_.empty() && rechecks_.begin()->first <= now.mono_ms) {
    if (waiters_.HasAcquirers(rechecks_.begin()->second)) {
      MarkReady(rechecks_.begin()->second, /*freed=*/false);
    }
    rechecks_.erase(rechecks_.begin());
  }
  for (const Waiter& waiter : waiters_.TakeTimedOut(now.mono_ms)) {
    ForgetWait(waiter);
    Client* client = FindClient(waiter.client_id);
    if (client == nullptr) continue;
    ++stats_.waits_timed_out;
    if (waiter.kind == WaiterKind::kAcquire) ++stats_.locks_denied;
    client->blocked = BlockKind::kNone;
    Attention(*client);
    client->writer().WriteNull();
  }
}

std::optional<int64_t> Engine::NextWakeMs() const {
  std::optional<int64_t> next = node_.NextWakeMs();
  if (const auto deadline = waiters_.NextDeadlineMs(); deadline && (!next || *deadline < *next)) {
    next = deadline;
  }
  if (!rechecks_.empty() && (!next || rechecks_.begin()->first < *next)) {
    next = rechecks_.begin()->first;
  }
  return next;
}

void Engine::Attention(Client& client) {
  // The client running the current command is handled by its caller anyway.
  if (client.id() == executing_client_id_ || client.needs_attention) return;
  client.needs_attention = true;
  attention_.push_back(client.id());
}

void Engine::EndTurn(Time now, TurnDriver& driver, std::vector<cluster::Message>* peer_messages) {
  // Bounded, so that clients feeding each other freed keys cannot hold the
  // loop: what is left waits for the next turn (the driver keeps polling).
  constexpr int kAttentionRoundsMax = 8;
  for (int round = 0; round < kAttentionRoundsMax && HasPendingWork(); ++round) {
    ServeReadyKeys(now);
    for (const uint64_t id : TakeAttention()) {
      Client* client = FindClient(id);
      if (client == nullptr) continue;
      if (client->kill_requested) {
        driver.Close(*client);
        continue;
      }
      if (client->blocked == BlockKind::kNone && !client->pipeline.deferred.empty()) RunDeferred(*client, now);
      driver.Continue(*client);
    }
  }
  node_.TakeOutbox(peer_messages);
}

std::vector<uint64_t> Engine::TakeAttention() {
  std::vector<uint64_t> ids;
  ids.swap(attention_);
  for (const uint64_t id : ids) {
    if (Client* client = FindClient(id)) client->needs_attention = false;
  }
  return ids;
}

void Engine::RequestKill(Client& client) {
  client.kill_requested = true;
  // Forget its wait now: the connection closes only at the end of the loop
  // turn, and a killed waiter must not be handed a lock in between.
  if (const auto waiter = waiters_.Remove(client.id())) ForgetWait(*waiter);
  client.blocked = BlockKind::kNone;
  Attention(client);
}

}  // namespace lockerd::server
