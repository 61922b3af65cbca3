// Writes replies in RESP2 or RESP3 into a caller-owned byte buffer. The
// writer is told the connection's protocol version once; handlers call
// WriteNull() or WriteMapHeader() and never branch on the version.
//
// It does no IO and never flushes: the server owns the buffer and decides
// when to send it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lockerd::protocol {

enum class RespVersion { kResp2 = 2, kResp3 = 3 };

class RespWriter {
 public:
  explicit RespWriter(std::string* out, RespVersion version = RespVersion::kResp2)
      : out_(out), version_(version) {}

  RespVersion version() const { return version_; }
  // Where the bytes go; the caller keeps the string alive.
  std::string* output() const { return out_; }
  void set_output(std::string* out) { out_ = out; }
  void set_version(RespVersion version) { version_ = version; }

  void WriteSimpleString(std::string_view text);  // "+OK"
  // `text` is the whole error, code first ("ERR syntax error"). CR and LF in
  // it are replaced by spaces so that the reply stays one line.
  void WriteError(std::string_view text);
  void WriteInteger(int64_t value);
  void WriteBulk(std::string_view bytes);
  void WriteNull();       // RESP2 null bulk "$-1", RESP3 "_".
  void WriteNullArray();  // RESP2 null array "*-1", RESP3 "_".
  void WriteArrayHeader(size_t count);
  void WriteMapHeader(size_t pairs);  // RESP2: a flat array of 2*pairs.
  void WriteSetHeader(size_t count);  // RESP2: an array.
  // RESP3 verbatim string ("=len\r\ntxt:..."), a bulk string in RESP2.
  void WriteVerbatim(std::string_view format, std::string_view text);

 private:
  void WriteHeader(char type, int64_t value);

  std::string* out_;
  RespVersion version_;
};

}  // namespace lockerd::protocol
