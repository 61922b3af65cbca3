// One write through a Node, as the tests of tests/cluster call it: its
// result, taken at once (a member alone decides in the call).
#pragma once

#include <string>
#include <vector>

#include "cluster/node.h"

namespace lockerd::cluster {

inline WriteResult WriteOnce(Node& node, WriteOp op, const std::string& key, const std::string& owner,
                             int64_t ttl_ms, Time now) {
  WriteRequest request;
  request.request_id = 1;
  request.op = op;
  request.key = key;
  request.owner = owner;
  request.ttl_ms = ttl_ms;
  node.Submit(request, now);
  std::vector<WriteResult> results;
  node.TakeResults(&results);
  return results.empty() ? WriteResult{} : results[0];
}

}  // namespace lockerd::cluster
