// What the peer links know of each peer, for INFO cluster: a plain value,
// so that the engine reads it without seeing the links (or libuv).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/ballot.h"

namespace lockerd::server {

// The link's view of a peer, for INFO cluster.
struct PeerStatus {
  cluster::MemberId member = 0;
  std::string address;
  bool reachable = false;
  double rtt_ms = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;  // Link down, or over its buffer limit.
  uint64_t connects = 0;
};

}  // namespace lockerd::server
