// Incremental parser for client commands: RESP2 arrays of bulk strings
// ("*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n") and inline commands ("PING hi\r\n", what
// telnet sends). Input may arrive split anywhere and many commands may arrive
// in one read; the parser keeps what it needs between calls.
//
// It does no IO and knows nothing about commands: it turns bytes into argument
// vectors and refuses input that breaks a limit. It does not parse replies.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/limits.h"

namespace lockerd::protocol {

enum class ParseStatus {
  kComplete,  // A command is ready in command(); feed the rest after it.
  kNeedMore,  // All input was taken; a command is not complete yet.
  kError,     // The stream cannot be trusted: reply error() and close.
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed_bytes = 0;
  // Set with kError: the full reply text, e.g. "ERR Protocol error: invalid
  // bulk length". Points at static storage.
  std::string_view error;
};

class RespParser {
 public:
  explicit RespParser(ParserLimits limits = {});

  // Consumes input up to the end of the first complete command, or all of it.
  // After kComplete the command stays valid until the next Feed() or Reset().
  // After kError the parser stays failed until Reset().
  ParseResult Feed(std::string_view input);

  std::span<const std::string> command() const { return {args_.data(), args_count_}; }

  // Lets bulk strings (and so commands) grow to at least `bytes`: a peer
  // link's batches need not fit a client's limit.
  void RaiseBulkLimit(size_t bytes) {
    limits_.bulk_bytes_max = std::max(limits_.bulk_bytes_max, bytes);
    limits_.command_bytes_max = std::max(limits_.command_bytes_max, limits_.bulk_bytes_max);
  }

  // Forgets any partial command (used when a connection is reset or reused).
  void Reset();

  // Bytes held for the command being read; counts against the query buffer.
  size_t buffered_bytes() const { return command_bytes_ + line_.size(); }
  bool idle() const { return state_ == State::kStart && line_.empty(); }

 private:
  enum class State { kStart, kArrayHeader, kBulkHeader, kBulkData, kInline, kFailed };

  // Each step consumes from `input` (advancing it) and returns kNeedMore while
  // it wants more bytes, kComplete when a command is ready, or kError.
  ParseStatus StepStart(std::string_view& input);
  ParseStatus StepArrayHeader(std::string_view& input);
  ParseStatus StepBulkHeader(std::string_view& input);
  ParseStatus StepBulkData(std::string_view& input);
  ParseStatus StepInline(std::string_view& input);

  // Gathers one CRLF-terminated line into line_ (or returns it in place when
  // it is whole in input). Returns false while the line is incomplete.
  bool TakeLine(std::string_view& input, size_t line_bytes_max, std::string_view* line,
                bool* too_long);
  std::string& NextArg();
  ParseStatus Fail(std::string_view error);

  ParserLimits limits_;
  State state_ = State::kStart;
  std::string line_;           // A header or inline line split across reads.
  std::vector<std::string> args_;  // Reused between commands to keep capacity.
  size_t args_count_ = 0;
  size_t args_expected_ = 0;
  size_t bulk_remaining_ = 0;  // Bytes of bulk data still to read, then CRLF.
  size_t command_bytes_ = 0;
  std::string error_;
};

}  // namespace lockerd::protocol
