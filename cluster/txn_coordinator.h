// The coordinator's rules for a transaction over several keys (txn.h): the
// single-key round of coordinator.h run on every declared key at once, under
// one ballot. Phase 1 takes a promise for each key from a majority; the body
// then runs on the registers those promises chose; phase 2 asks a majority
// to accept each key the body wrote, and each key whose read was not yet
// chosen (its value is written back, as a Paxos read must).
//
// Per key this is exactly the single-key round, so each key stays a
// linearizable register and one holder at a time holds. Across keys the
// promises make the snapshot consistent: no write to any of the keys can be
// chosen between the promises and the commits without pre-empting them. A
// commit pre-empted on one key after another key's commit reached a
// majority leaves the writes applied in part; the client then hears
// -NOQUORUM saying so (docs/cluster.md, "Scripts").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cluster/coordinator.h"
#include "cluster/messages.h"
#include "cluster/quorum.h"
#include "cluster/txn.h"
#include "cluster/write_request.h"

namespace lockerd::cluster {

struct TxnStats {
  uint64_t started = 0;
  uint64_t retried = 0;
  uint64_t committed = 0;
  uint64_t read_only = 0;       // Nothing to write: answered after phase 1.
  uint64_t peeks = 0;           // One-key transactions that read a majority first.
  uint64_t peek_answers = 0;    // ... and were answered from that read.
  uint64_t written_back = 0;    // Keys whose read had to be written back.
  uint64_t torn = 0;            // Commit pre-empted after a key was accepted.
  uint64_t carried_on = 0;      // Pre-empted commits found carried on by a rival.
  uint64_t rerun_unchanged = 0; // Pre-empted commits found untouched: body ran again.
  uint64_t rollbacks = 0;       // Fresh grants of failed transactions undone.
  uint64_t timed_out = 0;
  uint64_t stale_replies = 0;
};

class TxnCoordinator {
 public:
  // Ballots come from `ballots`, the member's single-key coordinator, so
  // that no ballot is ever used twice on one key.
  TxnCoordinator(const CoordinatorOptions& options, Coordinator* ballots);

  // Round ids of transactions carry this bit; the node routes replies by it.
  static constexpr uint64_t kRoundIdBit = uint64_t{1} << 62;
  static bool Owns(uint64_t round_id) { return (round_id & kRoundIdBit) != 0; }

  void Submit(TxnRequest request, Time now, std::vector<Message>* outbox);
  void OnPromise(MemberId from, const Promise& promise, Time now, std::vector<Message>* outbox);
  void OnAccepted(MemberId from, const Accepted& accepted, Time now,
                  std::vector<Message>* outbox);
  void Tick(Time now, std::vector<Message>* outbox);
  std::optional<int64_t> NextWakeMs() const;
  // Some transaction's deadline or backoff is due at `now`.
  bool HasDue(Time now) const;
  // Appends the results of finished transactions to `out`, in the order
  // they finished.
  void TakeResults(std::vector<WriteResult>* out);

  size_t in_flight() const { return txns_.size(); }
  const TxnStats& stats() const { return stats_; }

 private:
  enum class Phase { kPeek, kPromise, kAccept, kBackoff };
  // Key index in the low bits of a round id.
  static constexpr int kKeyBits = 10;
  static_assert(kTxnKeysMax < (size_t{1} << kKeyBits));

  // What the body did to a key, for a retry after a pre-empted commit.
  enum class WriteKind : uint8_t {
    kNone,       // Not written by the body.
    kNewLease,   // A lease with a token of its own (an acquire, a take-over).
    kSameToken,  // The lease read, renewed or handed over (same token).
    kFree,       // The lease read, ended.
  };
  struct PreEmpted {
    WriteKind kind = WriteKind::kNone;
    Accept sent;
    Ballot read_ballot;
    LeaseView read;
    // kFree: until then the lease read cannot have run out by itself
    // (its time left, less the drift allowance, from the attempt's reads).
    int64_t lease_floor_ms = 0;
  };

  struct KeyRound {
    QuorumTally tally;
    bool chosen_set = false;
    Ballot chosen_ballot;
    LeaseView chosen;
    // Every promise so far reported the same accepted ballot: once a
    // majority has, that register was chosen and a read needs no write-back.
    bool agree = true;
    bool writing = false;  // kAccept: this key has an Accept out.
    bool grants = false;
    bool body_wrote = false;  // The body's write (not a write-back).
    bool new_lease = false;   // ... a lease with a token of its own.
    Accept accept;
  };
  struct Txn {
    TxnRequest request;
    Ballot ballot;
    Phase phase = Phase::kPromise;
    int attempt = 0;
    uint64_t epoch = 0;     // Of the configuration this attempt runs under.
    uint32_t voters = 1;    // ... and its voters.
    int64_t sent_ms = 0;
    int64_t deadline_ms = 0;
    int64_t retry_at_ms = 0;
    std::vector<KeyRound> keys;
    size_t keys_reached = 0;  // Keys whose tally (of this phase) is reached.
    size_t keys_writing = 0;
    uint64_t counter_max = 0;
    bool quarantined = false;
    bool outvoted = false;
    int64_t quarantine_left_ms = 0;
    // The body's accepts, held back until every key it only read is
    // confirmed at this ballot (see SendAccepts).
    std::vector<Accept> deferred;
    // A commit pre-empted by a rival's promise: the body cannot simply run
    // again, since its accepts may have been carried on (a rival round
    // takes the highest accepted state) and a script must not act twice.
    // The retry reads again without running the body (see Decide):
    // - every key as it was read (same accepted ballot): nothing was chosen
    //   since, so nothing of the body's took effect; it runs again;
    // - every key as the body left it (PreEmpted::Found): its writes took
    //   effect; they are written again at the new ballot, to make them
    //   chosen, and the body's reply stands;
    // - anything else: the outcome is unknown, and the client is told so.
    bool confirming = false;
    std::vector<PreEmpted> pre_empted;  // Per key.
    bool answer_unknown = false;  // Found neither: writing back, then -NOQUORUM.
    int64_t pre_empted_sent_ms = 0;
  };

  void StartAttempt(uint64_t txn_id, Txn txn, Time now, std::vector<Message>* outbox,
                    bool may_peek = true);
  void HandleAccepted(MemberId from, const Accepted& accepted, Time now, std::vector<Message>* outbox);
  // The commit of key `index` can no longer reach a majority (a rival's
  // higher ballot): answer, run the body again, or retry to confirm what
  // the pre-empted commit did (see Txn::confirming).
  void CommitPreEmpted(uint64_t txn_id, Txn& txn, size_t index, Time now, std::vector<Message>* outbox);
  // Retries due backoffs and fails transactions past their deadline.
  void TimeOut(Time now, std::vector<Message>* outbox);
  void OnPeekReply(MemberId from, const Promise& reply, uint64_t txn_id, Txn& txn, KeyRound& key,
                   Time now, std::vector<Message>* outbox);
  // Finds the transaction and key a reply is for; null when stale.
  Txn* Lookup(uint64_t round_id, Ballot ballot, Phase phase, size_t* key_index, uint64_t* txn_id);
  bool Count(Txn& txn, KeyRound& key, MemberId from, Vote vote, Ballot highest,
             int64_t quarantine_left_ms);
  void Decide(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox);
  // Confirming: every key as the pre-empted commit left it (its writes
  // took effect), or every key as that attempt read it (nothing did).
  bool FoundPreEmptedWrites(const Txn& txn, Time now) const;
  bool NothingChangedSincePreEmptedRead(const Txn& txn) const;
  // The Accepts a body's writes (or the write-backs of its reads) need.
  void SendAccepts(uint64_t txn_id, Txn& txn, const std::vector<TxnWrite>& writes,
                   std::vector<Message>* outbox);
  // Sends the body's held-back accepts once its reads are confirmed.
  void SendDeferred(Txn& txn, std::vector<Message>* outbox);
  // Sends `accept` for `key` to every member and counts the key as writing.
  void StartWriting(Txn& txn, KeyRound& key, Accept accept, std::vector<Message>* outbox);
  void Completed(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox);
  void Retry(uint64_t txn_id, Txn& txn, Time now, std::vector<Message>* outbox);
  void Finish(uint64_t txn_id, WriteOutcome outcome, std::string detail);
  // Hands the rollbacks Finish queued to the single-key coordinator.
  void SubmitRollbacks(Time now, std::vector<Message>* outbox);
  std::string DescribeAnswers(const Txn& txn) const;

  CoordinatorOptions options_;
  Coordinator* ballots_;
  uint64_t next_txn_seq_ = 1;
  std::map<uint64_t, Txn> txns_;  // By txn id (its round ids without the key bits).
  std::vector<WriteResult> results_;
  // A failed transaction's fresh grants (leases on keys it read free), to
  // be undone as a failed LOCK's are: only the write at its own ballot.
  std::vector<WriteRequest> rollbacks_;
  std::mt19937_64 rng_;
  TxnStats stats_;
};

}  // namespace lockerd::cluster
