// Buffers that live as long as a connection (replies, input held back,
// peer batches) keep their memory between uses, unless one use made them
// big: then they give it back once empty, so that one huge reply does not
// pin memory for the connection's lifetime.
#pragma once

#include <cstddef>
#include <string>

namespace lockerd::base {

inline constexpr size_t kBufferKeepBytes = 64 * 1024;

inline void ReleaseIfBig(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kBufferKeepBytes) std::string().swap(buffer);
}

}  // namespace lockerd::base
