// Fuzzes the RESP parser (protocol/resp_parser.h) and the inline-command
// splitter (protocol/inline_split.h).
//
// Input: the bytes a client sends. They are fed to the parser whole, one
// byte at a time, and in chunks whose sizes are drawn from a hash of the
// input, with the default limits and with tiny ones, and fed again after a
// Reset(). Every way must give the same commands and the same error: the
// parser promises that input may arrive split anywhere. Each command must
// respect the limits, a complete command is never empty (Engine::Execute
// CHECKs that), and what the parser holds stays within the query-buffer
// limit. The splitter must read back what it splits, quoted again.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/cross_protocol.h"
#include "protocol/inline_split.h"
#include "protocol/limits.h"
#include "protocol/resp_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using lockerd::fuzz::Fail;
using lockerd::protocol::ParseStatus;
using lockerd::protocol::ParserLimits;
using lockerd::protocol::RespParser;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  bool failed = false;
  std::string error;
  size_t buffered_at_end = 0;
  bool idle_at_end = false;

  // What a failed parser still holds does not matter: the connection
  // closes.
  bool operator==(const Outcome& other) const {
    return commands == other.commands && failed == other.failed && error == other.error &&
           (failed || (buffered_at_end == other.buffered_at_end && idle_at_end == other.idle_at_end));
  }
};

enum class Split { kWhole, kBytes, kChunks };

void CheckCommand(std::span<const std::string> command, const ParserLimits& limits,
                  std::string_view input) {
  if (command.empty()) Fail("the parser completed an empty command", input);
  if (command.size() > limits.args_count_max) Fail("a command has more arguments than the limit", input);
  size_t total = 0;
  for (const std::string& arg : command) {
    // A bulk string is bounded by bulk_bytes_max, an inline line by
    // inline_bytes_max.
    if (arg.size() > std::max(limits.bulk_bytes_max, limits.inline_bytes_max)) {
      Fail("an argument is over the limits", input);
    }
    total += arg.size();
  }
  if (total > limits.command_bytes_max) Fail("a command is over the query-buffer limit", input);
  lockerd::protocol::LooksLikeHttp(command);
}

Outcome Parse(RespParser& parser, std::string_view input, const ParserLimits& limits, Split split) {
  Outcome outcome;
  uint64_t random = lockerd::fuzz::Hash(input) | 1;
  const size_t held_max =
      limits.command_bytes_max + std::max(limits.inline_bytes_max, lockerd::protocol::kHeaderLineBytesMax);
  std::string_view rest = input;
  while (!rest.empty() && !outcome.failed) {
    size_t take = rest.size();
    if (split == Split::kBytes) take = 1;
    if (split == Split::kChunks) {
      random ^= random << 13;
      random ^= random >> 7;
      random ^= random << 17;
      take = (random % 8 == 0) ? 1 + random % 512 : 1 + random % 17;
      take = std::min(take, rest.size());
    }
    std::string_view chunk = rest.substr(0, take);
    rest.remove_prefix(take);
    // As Server::Process: feed until the chunk is used up or the stream fails.
    while (!chunk.empty()) {
      const auto result = parser.Feed(chunk);
      if (result.consumed_bytes > chunk.size()) Fail("Feed consumed more than it was given", input);
      if (parser.buffered_bytes() > held_max) Fail("the parser holds more than the query-buffer limit", input);
      chunk.remove_prefix(result.consumed_bytes);
      if (result.status == ParseStatus::kNeedMore) {
        if (!chunk.empty()) Fail("kNeedMore left input unconsumed", input);
        break;
      }
      if (result.status == ParseStatus::kError) {
        if (result.error.empty()) Fail("kError without an error text", input);
        outcome.failed = true;
        outcome.error = std::string(result.error);
        const auto again = parser.Feed("PING\r\n");
        if (again.status != ParseStatus::kError || again.consumed_bytes != 0) {
          Fail("a failed parser took more input", input);
        }
        break;
      }
      if (result.consumed_bytes == 0) Fail("kComplete without consuming a byte", input);
      const auto command = parser.command();
      CheckCommand(command, limits, input);
      outcome.commands.emplace_back(command.begin(), command.end());
    }
  }
  outcome.buffered_at_end = parser.buffered_bytes();
  outcome.idle_at_end = parser.idle();
  return outcome;
}

void CompareOutcomes(const Outcome& a, const Outcome& b, std::string_view how, std::string_view input) {
  if (a == b) return;
  std::string detail = std::string(how) + ": commands " + std::to_string(a.commands.size()) + " vs " +
                       std::to_string(b.commands.size()) + ", error '" + a.error + "' vs '" + b.error +
                       "', held " + std::to_string(a.buffered_at_end) + " vs " +
                       std::to_string(b.buffered_at_end) + ", idle " + std::to_string(a.idle_at_end) +
                       " vs " + std::to_string(b.idle_at_end);
  Fail("the parser's result depends on how the input was split: " + detail, input);
}

void FuzzParser(std::string_view input, const ParserLimits& limits) {
  RespParser whole_parser(limits);
  const Outcome whole = Parse(whole_parser, input, limits, Split::kWhole);
  RespParser bytes_parser(limits);
  CompareOutcomes(whole, Parse(bytes_parser, input, limits, Split::kBytes), "byte by byte", input);
  RespParser chunks_parser(limits);
  CompareOutcomes(whole, Parse(chunks_parser, input, limits, Split::kChunks), "in chunks", input);
  // A parser that was Reset() reads like a new one.
  whole_parser.Reset();
  if (!whole_parser.idle() || whole_parser.buffered_bytes() != 0) Fail("Reset() left state behind", input);
  CompareOutcomes(whole, Parse(whole_parser, input, limits, Split::kChunks), "after Reset()", input);
}

// Quotes an argument so that SplitInlineArgs reads it back exactly.
std::string Quote(const std::string& arg) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  out.push_back('"');
  return out;
}

void FuzzInlineSplit(std::string_view input) {
  using lockerd::protocol::InlineSplit;
  using lockerd::protocol::SplitInlineArgs;
  std::vector<std::string> args;
  size_t count = 0;
  if (SplitInlineArgs(input, 64, &args, &count) != InlineSplit::kOk) return;
  if (count > 64 || count > args.size()) Fail("SplitInlineArgs counted past its limit", input);
  std::string quoted;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) quoted.push_back(' ');
    quoted += Quote(args[i]);
  }
  std::vector<std::string> again;
  size_t again_count = 0;
  if (SplitInlineArgs(quoted, 64, &again, &again_count) != InlineSplit::kOk || again_count != count ||
      !std::equal(again.begin(), again.begin() + static_cast<std::ptrdiff_t>(count), args.begin())) {
    Fail("SplitInlineArgs does not read back its arguments quoted", quoted);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzParser(input, ParserLimits{});
  // Tiny limits, so that every limit is reached by small inputs.
  FuzzParser(input, ParserLimits{/*bulk_bytes_max=*/16, /*args_count_max=*/4, /*inline_bytes_max=*/32,
                                 /*command_bytes_max=*/48});
  FuzzInlineSplit(input.substr(0, input.find('\n')));
  return 0;
}
