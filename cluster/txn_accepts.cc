// TxnCoordinator: phase 2 of a transaction, the Accepts it sends. The body's
// writes, bounded as a single-key write's are (a renewal never shortens a
// lease, no ttl above max-lease-ms); the write-backs of keys it only read
// whose register may not be chosen yet; and, with several keys, the body's
// accepts held back until every read is confirmed. Counting the replies is
// txn_coordinator.cc's.
#include <algorithm>
#include <utility>
#include <vector>

#include "base/check.h"
#include "cluster/lease_math.h"
#include "cluster/txn_coordinator.h"

namespace lockerd::cluster {

void TxnCoordinator::SendAccepts(uint64_t txn_id, Txn& txn, const std::vector<TxnWrite>& writes,
                                 std::vector<Message>* outbox) {
  txn.phase = Phase::kAccept;
  txn.keys_reached = 0;
  txn.keys_writing = 0;
  // With more than one key, a key only read is written back too, even when
  // a majority agreed on it: a higher ballot promised on it since it was
  // read then makes that write-back fail. The body's own accepts go out
  // only once every read is so confirmed, so a failed confirmation has
  // written nothing of the body's and the body runs again on fresh state;
  // a success means every read still held at one instant.
  const bool validate_reads = txn.keys.size() > 1;
  const bool any_body_write =
      std::any_of(writes.begin(), writes.end(), [](const TxnWrite& w) { return w.write; });
  const bool any_read_only =
      std::any_of(writes.begin(), writes.end(), [](const TxnWrite& w) { return !w.write; });
  const bool confirm_reads_first = validate_reads && any_body_write && any_read_only;
  txn.deferred.clear();
  for (size_t i = 0; i < txn.keys.size(); ++i) {
    KeyRound& key = txn.keys[i];
    const TxnWrite& write = writes[i];
    Accept accept{txn_id | i, txn.request.keys[i], txn.ballot, false, {}, 0, 0, {}};
    if (write.write) {
      accept.held = write.held;
      if (write.held) {
        CHECK(write.ttl_ms > 0 && write.token > 0);
        accept.owner = write.owner;
        accept.token = write.token;
        // Members refuse a ttl above max-lease-ms as malformed.
        accept.ttl_ms = std::min(write.ttl_ms, options_.max_lease_ms);
        // A renewal of the lease read (same token) never shortens it, as
        // DecideWrite's: a shorter copy left on a minority by a failed
        // commit could be chosen later, before the holder's deadline.
        if (key.chosen.held && write.token == key.chosen.token) {
          accept.ttl_ms = std::max(write.ttl_ms, CarriedOverMs(key.chosen.remaining_ms, options_.drift,
                                                               options_.max_lease_ms));
        }
      } else {
        accept.token = write.token;  // Tokens the body granted, for the counters (txn.h).
      }
      key.grants = write.held && write.grants;
      key.new_lease = write.held && (!key.chosen.held || write.token != key.chosen.token);
      if (confirm_reads_first) {
        txn.deferred.push_back(std::move(accept));
        continue;
      }
      key.body_wrote = true;
    } else if (!key.agree || validate_reads || txn.confirming) {
      // Read, not written, and the register read may not be chosen yet
      // (or, confirming, a carried-on write): write it back at this ballot
      // so that no later round can choose something older.
      ++stats_.written_back;
      const int64_t ttl_ms =
          key.chosen.held ? CarriedOverMs(key.chosen.remaining_ms, options_.drift, options_.max_lease_ms) : 0;
      if (ttl_ms > 0) {
        accept.held = true;
        accept.owner = key.chosen.owner;
        accept.token = key.chosen.token;
        accept.ttl_ms = ttl_ms;
        accept.carry_from = key.chosen_ballot;  // Reading a lease never lengthens it.
      }
    } else {
      continue;
    }
    StartWriting(txn, key, std::move(accept), outbox);
  }
}

void TxnCoordinator::SendDeferred(Txn& txn, std::vector<Message>* outbox) {
  const uint64_t key_mask = (uint64_t{1} << kKeyBits) - 1;
  for (Accept& accept : txn.deferred) {
    KeyRound& key = txn.keys[accept.round_id & key_mask];
    key.body_wrote = true;
    StartWriting(txn, key, std::move(accept), outbox);
  }
  txn.deferred.clear();
}

void TxnCoordinator::StartWriting(Txn& txn, KeyRound& key, Accept accept,
                                  std::vector<Message>* outbox) {
  key.writing = true;
  key.accept = std::move(accept);
  key.tally = QuorumTally::Of(txn.voters);
  ++txn.keys_writing;
  ForEachMember(txn.voters, [&](MemberId member) {
    Message message{options_.self, member, key.accept};
    message.epoch = txn.epoch;
    outbox->push_back(std::move(message));
  });
}

}  // namespace lockerd::cluster
