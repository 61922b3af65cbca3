// One member of the lock service as a pure state machine: its registers (the
// lease table), its acceptor and its coordinator. The server feeds it
// requests, peer messages and the time, and takes out messages for peers,
// results for clients and the keys whose leases ended.
//
//   node.Submit(request, now);    // a client's write
//   node.Receive(message, now);   // from a peer; may be stale or duplicated
//   node.Tick(now);               // expiry, timeouts, retries
//   node.TakeOutbox(&messages);   // for the peer transport
//   node.TakeResults(&results);   // for the waiting clients
//
// Messages a member sends to itself are delivered at once, without encoding,
// so a member alone answers within the call that submitted the write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/acceptor.h"
#include "cluster/coordinator.h"
#include "cluster/lease_table.h"
#include "cluster/messages.h"
#include "cluster/txn.h"
#include "cluster/txn_coordinator.h"
#include "cluster/write_request.h"

namespace lockerd::cluster {

struct NodeOptions {
  size_t members_count = 1;
  MemberId self = 0;
  int64_t max_lease_ms = 60'000;
  double drift = 0.01;
  int64_t round_timeout_ms = 500;
  uint64_t seed = 1;  // Backoff jitter and the key of the key hash.
  // Active expiry handles at most this many registers per Tick, so that a
  // million leases ending at once do not stall the server's loop.
  size_t expire_budget = 10'000;
};

// What a clean shutdown saves and a restart loads.
struct SavedLease {
  std::string key;
  std::string owner;
  uint64_t token = 0;
  int64_t remaining_ms = 0;
  Ballot accepted;
};
struct NodeState {
  uint64_t token_counter = 0;
  Ballot ballot_floor;  // At least every ballot the member promised or used.
  std::vector<SavedLease> leases;
  // A member shut down cleanly while still in quarantine after an unclean
  // stop has not recovered what it lost: the quarantine (what was left of
  // it) and the sync carry over the restart.
  int64_t quarantine_left_ms = 0;
  bool needs_sync = false;
};

class Node {
 public:
  explicit Node(NodeOptions options);

  void Submit(WriteRequest request, Time now);
  // A transaction over several keys (a script); its result comes out of
  // TakeResults with the request's id.
  void SubmitTxn(TxnRequest request, Time now);
  void Receive(const Message& message, Time now);
  void Tick(Time now);
  // The server's peer links say whether `member` is reachable (see
  // Coordinator::SetReachable).
  void SetPeerReachable(MemberId member, bool reachable) { coordinator_.SetReachable(member, reachable); }
  // When Tick next has work: the earliest lease deadline, tombstone end,
  // round timeout or retry. Equal to or before now when work is pending.
  std::optional<int64_t> NextWakeMs() const;

  void TakeOutbox(std::vector<Message>* out);
  void TakeResults(std::vector<WriteResult>* out);
  std::vector<std::string> TakeFreedKeys() { return table_.TakeFreedKeys(); }

  // A member that stopped uncleanly must not vote until every lease it may
  // have granted has expired: max-lease-ms * (1 + drift) + a round timeout;
  // in a cluster, nor before a majority of the other members has told it
  // their token counters and highest ballots, so that tokens never go back.
  void StartQuarantine(Time now);
  bool syncing() const { return syncing_; }
  bool Quarantined(Time now) const { return acceptor_.Quarantined(now.mono_ms); }
  int64_t quarantine_until_ms() const { return acceptor_.quarantine_until_ms(); }

  NodeState Save(Time now) const;
  // Loads a saved state; `downtime_ms` passes for every lease.
  void Restore(const NodeState& state, Time now, int64_t downtime_ms);

  LeaseTable& table() { return table_; }
  const LeaseTable& table() const { return table_; }
  const Acceptor& acceptor() const { return acceptor_; }
  const Coordinator& coordinator() const { return coordinator_; }
  const TxnCoordinator& txn_coordinator() const { return txn_; }
  const NodeOptions& options() const { return options_; }
  uint64_t malformed_messages() const { return malformed_messages_; }

 private:
  // Delivers messages addressed to this member until none are left; the
  // rest stay in the outbox for the transport.
  void DeliverLocal(Time now);
  void Handle(const Message& message, Time now);
  // A member alone: the same decision as a round's, without the messages.
  void SubmitAlone(const WriteRequest& request, Time now);
  void SubmitTxnAlone(const TxnRequest& request, Time now);
  // Stops voting until a majority of the others have sent their token
  // counters and ballots (CLUSTER-SAFETY.md, restart without state).
  void BeginSync(Time now);
  void SendSyncRequests(Time now);
  void OnSyncReply(MemberId from, const SyncReply& reply);
  // False (and counted) for a held lease from a peer whose ttl is out of
  // 1..max-lease-ms or whose token is 0.
  bool LeaseSane(bool held, int64_t ttl_ms, uint64_t token);
  // The highest ballot this member has promised, accepted or used.
  Ballot HighestBallot() const;

  NodeOptions options_;
  LeaseTable table_;
  Acceptor acceptor_;
  Coordinator coordinator_;
  TxnCoordinator txn_;
  std::vector<Message> pending_;  // Produced, not yet routed.
  std::vector<Message> local_batch_;  // Being delivered to this member.
  std::vector<WriteResult> alone_results_;  // From SubmitAlone.
  std::vector<Message> outbox_;   // For other members.
  uint64_t malformed_messages_ = 0;
  // Restart sync: which members answered this round of requests.
  bool syncing_ = false;
  uint64_t sync_nonce_ = 0;
  uint32_t sync_answered_mask_ = 0;
  int64_t next_sync_ms_ = 0;
};

}  // namespace lockerd::cluster
