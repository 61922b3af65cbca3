// Writing a stream on libuv without waiting when the socket has room: as
// much as it takes now (uv_try_write), then the rest with one uv_write.
// Client connections (server/net) and peer links (server/peer/links) both
// write this way.
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>

namespace lockerd::server::uv {

struct WriteStart {
  size_t written_now = 0;  // Bytes the socket took at once.
  bool in_flight = false;  // The rest is being written; `done` will be called.
  int error = 0;           // A libuv status when the write failed.
};

// Writes `bytes` to `stream`. What does not go at once is erased from the
// front of `bytes` and written from `bytes` itself by a uv_write on
// `request`: `bytes` must stay put, untouched, until `done` is called.
inline WriteStart WriteNowOrLater(uv_stream_t* stream, uv_write_t* request, std::string& bytes,
                                  uv_write_cb done) {
  WriteStart start;
  uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
  int written = uv_try_write(stream, &buf, 1);
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    start.error = written;
    return start;
  }
  start.written_now = static_cast<size_t>(written);
  if (start.written_now == bytes.size()) return start;
  bytes.erase(0, start.written_now);
  buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
  if (const int status = uv_write(request, stream, &buf, 1, done); status != 0) {
    start.error = status;
    return start;
  }
  start.in_flight = true;
  return start;
}

}  // namespace lockerd::server::uv
