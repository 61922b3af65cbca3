// CLIENT INFO / CLIENT LIST lines, and the filters of CLIENT KILL, in Redis's
// format ("id=3 addr=127.0.0.1:50000 ... resp=2 lib-name= lib-ver=").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/time.h"
#include "server/engine/client.h"

namespace lockerd::server {

std::string DescribeClient(const Client& client, cluster::Time now);

// CLIENT KILL <filter> <value> ...: a client matches when every given filter
// matches it. SKIPME defaults to yes, as in Redis.
class KillFilter {
 public:
  // Returns an error reply for a bad filter, or an empty string.
  std::string Add(std::string_view name, std::string_view value);
  bool Matches(const Client& client, const Client& caller, cluster::Time now) const;

 private:
  std::optional<uint64_t> id_;
  std::optional<std::string> addr_;
  std::optional<std::string> laddr_;
  std::optional<std::string> user_;
  std::optional<int64_t> max_age_s_;
  bool skip_me_ = true;
  bool type_none_ = false;  // TYPE master/replica/pubsub: no client here is one.
};

}  // namespace lockerd::server
