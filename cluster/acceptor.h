// The member's (acceptor's) rules of the single-key Paxos round: when to
// promise, when to accept, and how an accepted state becomes a lease on this
// member's clock. See CLUSTER-SAFETY.md, steps 1 and 3.
//
// It answers one message at a time and keeps no connection state; a message
// may be stale or duplicated and is judged against the register when it is
// processed. It never sends, sleeps or reads a clock: time is passed in.
#pragma once

#include <cstdint>

#include "cluster/broken.h"
#include "cluster/lease_table.h"
#include "cluster/messages.h"

namespace lockerd::cluster {

struct AcceptorStats {
  uint64_t promises_granted = 0;
  uint64_t promises_refused = 0;
  uint64_t accepts_applied = 0;
  uint64_t accepts_repeated = 0;  // Duplicates of an accepted ballot.
  uint64_t accepts_refused = 0;
  uint64_t quarantine_refusals = 0;
  uint64_t malformed = 0;
  uint64_t learned = 0;
  uint64_t peeks = 0;
};

class Acceptor {
 public:
  // `broken`: rules a test breaks on purpose (broken.h); none in lockerd.
  explicit Acceptor(LeaseTable* table, BrokenRules broken = {}) : table_(table), broken_(broken) {}

  Promise OnPrepare(const Prepare& prepare, int64_t now_ms);
  Accepted OnAccept(const Accept& accept, int64_t now_ms);
  // A chosen value (see Learn). No reply.
  void OnLearn(const Learn& learn, int64_t now_ms);
  // A member alone is its own majority: it applies what it decided at once.
  void ApplyOwnDecision(Register& reg, Ballot ballot, bool held, const std::string& owner,
                        uint64_t token, int64_t ttl_ms, int64_t now_ms) {
    Apply(reg, ballot, held, owner, token, ttl_ms, now_ms);
    ++stats_.accepts_applied;
  }

  // After an unclean stop the member does not vote until `until_ms`, nor
  // before it has learned the others' counters (see Node).
  void QuarantineUntil(int64_t until_ms) { quarantine_until_ms_ = until_ms; }
  void SetSynced(bool synced) { synced_ = synced; }
  bool synced() const { return synced_; }
  bool Quarantined(int64_t now_ms) const;
  int64_t quarantine_until_ms() const { return quarantine_until_ms_; }

  uint64_t token_counter() const { return token_counter_; }
  void RaiseTokenCounter(uint64_t token) {
    if (token > token_counter_) token_counter_ = token;
  }
  const AcceptorStats& stats() const { return stats_; }

 private:
  // Applies an accepted or chosen state to the register.
  void Apply(Register& reg, Ballot ballot, bool held, const std::string& owner, uint64_t token,
             int64_t ttl_ms, int64_t now_ms, Ballot carry_from = {});

  LeaseTable* table_;  // Not owned; outlives the acceptor.
  BrokenRules broken_;
  uint64_t token_counter_ = 0;
  int64_t quarantine_until_ms_ = 0;
  bool synced_ = true;
  AcceptorStats stats_;
};

}  // namespace lockerd::cluster
