#include "protocol/resp_writer.h"

#include <charconv>

namespace lockerd::protocol {

void RespWriter::WriteHeader(char type, int64_t value) {
  char buffer[24];
  buffer[0] = type;
  const auto result = std::to_chars(buffer + 1, buffer + sizeof buffer - 2, value);
  char* end = result.ptr;
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buffer, static_cast<size_t>(end - buffer));
}

void RespWriter::WriteSimpleString(std::string_view text) {
  out_->push_back('+');
  out_->append(text);
  out_->append("\r\n", 2);
}

void RespWriter::WriteError(std::string_view text) {
  out_->push_back('-');
  const size_t start = out_->size();
  out_->append(text);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n", 2);
}

void RespWriter::WriteInteger(int64_t value) { WriteHeader(':', value); }

void RespWriter::WriteBulk(std::string_view bytes) {
  WriteHeader('$', static_cast<int64_t>(bytes.size()));
  out_->append(bytes);
  out_->append("\r\n", 2);
}

void RespWriter::WriteNull() {
  if (version_ == RespVersion::kResp3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void RespWriter::WriteNullArray() {
  if (version_ == RespVersion::kResp3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void RespWriter::WriteArrayHeader(size_t count) { WriteHeader('*', static_cast<int64_t>(count)); }

void RespWriter::WriteMapHeader(size_t pairs) {
  if (version_ == RespVersion::kResp3) {
    WriteHeader('%', static_cast<int64_t>(pairs));
  } else {
    WriteHeader('*', static_cast<int64_t>(pairs * 2));
  }
}

void RespWriter::WriteSetHeader(size_t count) {
  WriteHeader(version_ == RespVersion::kResp3 ? '~' : '*', static_cast<int64_t>(count));
}

void RespWriter::WriteVerbatim(std::string_view format, std::string_view text) {
  if (version_ != RespVersion::kResp3) {
    WriteBulk(text);
    return;
  }
  // The format is exactly three characters ("txt", "mkd") and a colon.
  WriteHeader('=', static_cast<int64_t>(format.size() + 1 + text.size()));
  out_->append(format);
  out_->push_back(':');
  out_->append(text);
  out_->append("\r\n", 2);
}

}  // namespace lockerd::protocol
