#include "tests/sim/checker.h"

#include <algorithm>

namespace lockerd::sim {

int Checker::Grant(const std::string& key, int client, uint64_t token, int64_t start_us,
                   int64_t end_us) {
  const int id = static_cast<int>(holds_.size());
  holds_.push_back({key, client, token, start_us, std::max(start_us, end_us)});
  by_key_[key].push_back(id);
  const Hold& hold = holds_.back();
  if (hold.end_us <= hold.start_us) return id;  // The reply came too late to use.
  TokenHolder& latest = max_token_[key];
  // A client that reuses its owner name may be granted the token it holds
  // again (LOCK by the holder renews); any other token must be new.
  const bool renewal = token == latest.token && client == latest.client;
  if (token <= latest.token && !renewal) {
    Fail("fencing: key " + key + " granted token " + std::to_string(token) + " to client " +
         std::to_string(client) + " at " + std::to_string(start_us) + " us, after token " +
         std::to_string(latest.token) + " (client " + std::to_string(latest.client) + ")");
  }
  if (token > latest.token) latest = {token, client};
  CheckOverlap(hold);
  return id;
}

int Checker::Extend(int hold, int64_t start_us, int64_t end_us) {
  Hold old = holds_[static_cast<size_t>(hold)];
  Cut(hold, start_us);
  const int id = static_cast<int>(holds_.size());
  holds_.push_back({old.key, old.client, old.token, start_us, std::max(start_us, end_us)});
  by_key_[old.key].push_back(id);
  if (holds_.back().end_us > start_us) CheckOverlap(holds_.back());
  return id;
}

void Checker::Cut(int hold, int64_t at_us) {
  Hold& h = holds_[static_cast<size_t>(hold)];
  h.end_us = std::max(h.start_us, std::min(h.end_us, at_us));
}

void Checker::CheckOverlap(const Hold& hold) {
  for (const int other_id : by_key_[hold.key]) {
    const Hold& other = holds_[static_cast<size_t>(other_id)];
    if (&other == &hold || other.client == hold.client) continue;
    if (other.start_us < hold.end_us && hold.start_us < other.end_us) {
      Fail("mutual exclusion: key " + hold.key + " held by client " +
           std::to_string(other.client) + " (token " + std::to_string(other.token) + ", " +
           std::to_string(other.start_us) + ".." + std::to_string(other.end_us) +
           " us) and client " + std::to_string(hold.client) + " (token " +
           std::to_string(hold.token) + ", " + std::to_string(hold.start_us) + ".." +
           std::to_string(hold.end_us) + " us)");
      return;
    }
  }
}

void Checker::Released(const std::string& key, uint64_t token, size_t free_members,
                       size_t members, int64_t at_us) {
  if (free_members < members / 2 + 1) {
    Fail("release: key " + key + " token " + std::to_string(token) + " acknowledged at " +
         std::to_string(at_us) + " us but free on only " + std::to_string(free_members) + " of " +
         std::to_string(members) + " members");
  }
}

void Checker::Fail(std::string violation) {
  if (violations_.size() < 10) violations_.push_back(std::move(violation));
}

}  // namespace lockerd::sim
