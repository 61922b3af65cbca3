// A plain TCP connection to lockerd, for integration tests that must choose
// the bytes on the wire: inline commands as telnet sends them, malformed
// RESP, HTTP requests, half-sent commands and clients that never read.
// It does not speak RESP itself beyond decoding replies with resp_reply.h,
// and it never raises SIGPIPE (writes use MSG_NOSIGNAL).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/resp_reply.h"

namespace lockerd::testing {

class RawClient {
 public:
  // Connects to 127.0.0.1:port; ok() says whether it worked.
  explicit RawClient(int port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  // True once a read saw the server close the connection (FIN or reset).
  bool closed_by_server() const { return closed_by_server_; }

  // Writes all of `bytes`; false if the connection broke or `timeout` passed.
  bool Send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Writes what the socket takes, waiting up to `wait` for room: the count
  // of bytes written, 0 if the socket buffers stayed full, -1 if the
  // connection broke.
  long SendSome(std::string_view bytes, std::chrono::milliseconds wait = {});

  // Reads until `count` replies are decoded, the server closes, or `timeout`
  // passes; returns the replies decoded (possibly fewer than `count`).
  std::vector<Reply> ReadReplies(size_t count,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
  std::optional<Reply> ReadReply(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads (keeping the bytes for ReadReply) until the server closes the
  // connection; false if it is still open after `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Closes our end now.
  void Close();

 private:
  // One read of what is available, waiting at most `wait`; false on close or
  // when nothing arrived.
  bool ReadSome(std::chrono::milliseconds wait);

  int fd_ = -1;
  bool closed_by_server_ = false;
  std::string received_;  // Bytes read but not yet decoded into replies.
};

}  // namespace lockerd::testing
