#include "protocol/resp_parser.h"

#include <algorithm>
#include <cstdio>

#include "protocol/inline_split.h"
#include "protocol/numbers.h"

namespace lockerd::protocol {
namespace {

// An argument buffer larger than this is dropped after its command rather
// than kept for reuse, so one big command does not pin memory for the
// connection's lifetime.
constexpr size_t kArgKeepBytes = 64 * 1024;
// Likewise, argument slots beyond this many are dropped after a command
// that used them (a "*65536" command of empty strings would pin 2 MB).
constexpr size_t kArgsKeepCount = 1024;

// A declared bulk length is a promise, not bytes: reserve at most this much
// up front and let the string grow as the data really arrives.
constexpr size_t kBulkReserveBytesMax = 16 * 1024;

// Bytes nobody types into telnet: control characters other than tab, CR and
// LF. A line holding them is binary junk (or another protocol), not a
// command. Bytes above 0x7f are allowed: they may be UTF-8 keys.
bool HasControlBytes(std::string_view line) {
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) return true;
  }
  return false;
}

std::string DescribeByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  char hex[8];
  std::snprintf(hex, sizeof hex, "\\x%02x", u);
  return hex;
}

}  // namespace

RespParser::RespParser(ParserLimits limits) : limits_(limits) {}

void RespParser::Reset() {
  state_ = State::kStart;
  line_.clear();
  args_count_ = 0;
  args_expected_ = 0;
  bulk_remaining_ = 0;
  command_bytes_ = 0;
  error_.clear();
}

ParseResult RespParser::Feed(std::string_view input) {
  const size_t input_bytes = input.size();
  if (state_ == State::kFailed) return {ParseStatus::kError, 0, error_};
  while (!input.empty()) {
    ParseStatus status = ParseStatus::kNeedMore;
    switch (state_) {
      case State::kStart: status = StepStart(input); break;
      case State::kArrayHeader: status = StepArrayHeader(input); break;
      case State::kBulkHeader: status = StepBulkHeader(input); break;
      case State::kBulkData: status = StepBulkData(input); break;
      case State::kInline: status = StepInline(input); break;
      case State::kFailed: status = ParseStatus::kError; break;
    }
    if (status == ParseStatus::kComplete) {
      return {ParseStatus::kComplete, input_bytes - input.size(), {}};
    }
    if (status == ParseStatus::kError) {
      return {ParseStatus::kError, input_bytes - input.size(), error_};
    }
  }
  return {ParseStatus::kNeedMore, input_bytes, {}};
}

ParseStatus RespParser::StepStart(std::string_view& input) {
  for (size_t i = 0; i < args_count_; ++i) {
    if (args_[i].capacity() > kArgKeepBytes) std::string().swap(args_[i]);
  }
  if (args_.size() > kArgsKeepCount) {
    args_.resize(kArgsKeepCount);
    args_.shrink_to_fit();
  }
  args_count_ = 0;
  args_expected_ = 0;
  command_bytes_ = 0;
  state_ = input.front() == '*' ? State::kArrayHeader : State::kInline;
  return ParseStatus::kNeedMore;
}

bool RespParser::TakeLine(std::string_view& input, size_t line_bytes_max, std::string_view* line,
                          bool* too_long) {
  *too_long = false;
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    if (line_.size() + input.size() > line_bytes_max) {
      *too_long = true;
      return false;
    }
    line_.append(input);
    input.remove_prefix(input.size());
    return false;
  }
  if (line_.size() + newline > line_bytes_max) {
    *too_long = true;
    return false;
  }
  if (line_.empty()) {
    *line = input.substr(0, newline);
  } else {
    line_.append(input.substr(0, newline));
    *line = line_;
  }
  input.remove_prefix(newline + 1);
  return true;
}

ParseStatus RespParser::StepArrayHeader(std::string_view& input) {
  std::string_view line;
  bool too_long = false;
  if (!TakeLine(input, kHeaderLineBytesMax, &line, &too_long)) {
    return too_long ? Fail("Protocol error: too big mbulk count string") : ParseStatus::kNeedMore;
  }
  std::optional<int64_t> count;
  if (line.size() >= 2 && line.back() == '\r') count = ParseInt64(line.substr(1, line.size() - 2));
  line_.clear();
  if (!count || *count > static_cast<int64_t>(limits_.args_count_max)) {
    return Fail("Protocol error: invalid multibulk length");
  }
  if (*count <= 0) {  // "*0" and "*-1" are empty commands; Redis skips them.
    state_ = State::kStart;
    return ParseStatus::kNeedMore;
  }
  args_expected_ = static_cast<size_t>(*count);
  state_ = State::kBulkHeader;
  return ParseStatus::kNeedMore;
}

ParseStatus RespParser::StepBulkHeader(std::string_view& input) {
  if (line_.empty() && input.front() != '$') {
    return Fail("Protocol error: expected '$', got '" + DescribeByte(input.front()) + "'");
  }
  std::string_view line;
  bool too_long = false;
  if (!TakeLine(input, kHeaderLineBytesMax, &line, &too_long)) {
    return too_long ? Fail("Protocol error: too big bulk count string") : ParseStatus::kNeedMore;
  }
  std::optional<int64_t> length;
  if (line.size() >= 2 && line.back() == '\r') length = ParseInt64(line.substr(1, line.size() - 2));
  line_.clear();
  if (!length || *length < 0 || static_cast<uint64_t>(*length) > limits_.bulk_bytes_max) {
    return Fail("Protocol error: invalid bulk length");
  }
  const auto bulk_bytes = static_cast<size_t>(*length);
  if (command_bytes_ + bulk_bytes > limits_.command_bytes_max) {
    return Fail("Protocol error: command exceeds the query buffer limit (client-query-buffer-limit)");
  }
  command_bytes_ += bulk_bytes;
  NextArg().reserve(std::min(bulk_bytes, kBulkReserveBytesMax));
  bulk_remaining_ = bulk_bytes + 2;
  state_ = State::kBulkData;
  return ParseStatus::kNeedMore;
}

ParseStatus RespParser::StepBulkData(std::string_view& input) {
  std::string& arg = args_[args_count_ - 1];
  if (bulk_remaining_ > 2) {
    const size_t take = std::min(input.size(), bulk_remaining_ - 2);
    arg.append(input.data(), take);
    input.remove_prefix(take);
    bulk_remaining_ -= take;
  }
  while (bulk_remaining_ > 0 && bulk_remaining_ <= 2 && !input.empty()) {
    const char expected = bulk_remaining_ == 2 ? '\r' : '\n';
    if (input.front() != expected) return Fail("Protocol error: expected CRLF after bulk data");
    input.remove_prefix(1);
    --bulk_remaining_;
  }
  if (bulk_remaining_ > 0) return ParseStatus::kNeedMore;
  if (args_count_ == args_expected_) {
    state_ = State::kStart;
    return ParseStatus::kComplete;
  }
  state_ = State::kBulkHeader;
  return ParseStatus::kNeedMore;
}

ParseStatus RespParser::StepInline(std::string_view& input) {
  std::string_view line;
  bool too_long = false;
  if (!TakeLine(input, limits_.inline_bytes_max, &line, &too_long)) {
    return too_long ? Fail("Protocol error: too big inline request") : ParseStatus::kNeedMore;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (HasControlBytes(line)) {
    line_.clear();
    return Fail("Protocol error: binary data in an inline command");
  }
  const InlineSplit split = SplitInlineArgs(line, limits_.args_count_max, &args_, &args_count_);
  line_.clear();
  if (split == InlineSplit::kUnbalancedQuotes) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  if (split == InlineSplit::kTooManyArgs) return Fail("Protocol error: invalid multibulk length");
  state_ = State::kStart;
  // An empty line is not a command: Redis ignores it, and so do we.
  return args_count_ == 0 ? ParseStatus::kNeedMore : ParseStatus::kComplete;
}

std::string& RespParser::NextArg() {
  if (args_count_ == args_.size()) args_.emplace_back();
  std::string& arg = args_[args_count_++];
  arg.clear();
  return arg;
}

ParseStatus RespParser::Fail(std::string_view error) {
  error_.assign(error);
  state_ = State::kFailed;
  return ParseStatus::kError;
}

}  // namespace lockerd::protocol
