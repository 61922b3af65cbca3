// A transaction over a few declared keys (what a Lua script is to the
// cluster): read every key at a majority under one ballot, run the body on
// that snapshot, then commit its writes under the same promises. See
// docs/cluster.md, "Scripts".
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/messages.h"

namespace lockerd::cluster {

// What the body wants done to one key.
struct TxnWrite {
  bool write = false;  // False: leave the key as it is.
  bool held = false;   // With write: the new lease, or free.
  std::string owner;
  // Held: the lease's token. Freed: the largest token the body granted (0
  // if none), which the members' token counters take, so that a token
  // granted and freed in one transaction is never granted again.
  uint64_t token = 0;
  int64_t ttl_ms = 0;
  // The write starts a lease the client will count on (a grant or a
  // renewal): it must reach a majority while that lease is still valid.
  bool grants = false;
};

// The snapshot the body runs on: each key's register as chosen from a
// majority's promises, in the order of TxnRequest::keys.
struct TxnView {
  const std::vector<std::string>& keys;
  const std::vector<LeaseView>& leases;
  uint64_t counter_max = 0;  // The largest token counter any promise reported.
  int64_t wall_ms = 0;       // For the token floor of new tokens.
};

// Returns one TxnWrite per key. It may run more than once for one request
// (a pre-empted read is retried on fresh state); the run whose writes were
// committed is the last one. It runs inside the coordinator's call: it must
// not call back into the node.
using TxnBody = std::function<std::vector<TxnWrite>(const TxnView&)>;

struct TxnRequest {
  uint64_t request_id = 0;
  std::vector<std::string> keys;  // Distinct; at most kTxnKeysMax.
  TxnBody body;
  // The body likely only reads (a dry run on the member's own table wrote
  // nothing: a try-lock script that finds the key held). A one-key
  // transaction then reads a majority without promising first, so that it
  // does not pre-empt the holder's release; if the majority agrees and the
  // body still writes nothing, that read is its answer (see
  // TxnCoordinator::OnPeekReply).
  bool peek_first = false;
};

// Keys one transaction may declare.
inline constexpr size_t kTxnKeysMax = 1000;

}  // namespace lockerd::cluster
