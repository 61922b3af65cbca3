// Small helpers the integration tests share: a reply as text, and waiting
// for a local read to catch up with a write made through another member.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tests/support/lockerd_process.h"

namespace lockerd::testing {

// "(nil)", the integer, or the string/status/error text.
inline std::string Text(const ReplyPtr& reply) {
  if (!reply) return "(no reply)";
  if (reply->type == REDIS_REPLY_NIL) return "(nil)";
  if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
  return std::string(reply->str, reply->len);
}

// Reads are local hints, so a member may learn of a write a moment after the
// writer's reply: looks again until `condition` holds or the timeout passes.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace lockerd::testing
