// Bounds on what one client may send in one command. Each is the default of a
// setting (named in the comment) that the config may lower or raise; the
// parser itself only enforces the ParserLimits it is given.
#pragma once

#include <cstddef>

namespace lockerd::protocol {

// Keys, owners and lock scripts are small; a far bigger bulk is hostile.
// Default of `proto-max-bulk-len`.
inline constexpr size_t kBulkBytesDefault = 1 << 20;

// DEL, EXISTS and script calls take several keys, never tens of thousands.
// Default of `proto-max-multibulk-len`.
inline constexpr size_t kArgsCountDefault = 1 << 16;

// An inline command is typed by a person (telnet); Redis allows 64 KB.
// Fixed, like Redis's PROTO_INLINE_MAX_SIZE.
inline constexpr size_t kInlineBytesMax = 64 * 1024;

// "*<count>\r\n" and "$<length>\r\n" never need more than 20 digits; a longer
// header line is junk and is refused before it is buffered.
inline constexpr size_t kHeaderLineBytesMax = 32;

// Everything one command may hold while it is being read (all its arguments).
// Default of `client-query-buffer-limit`.
inline constexpr size_t kCommandBytesDefault = 16 << 20;

static_assert(kInlineBytesMax <= kCommandBytesDefault);
static_assert(kBulkBytesDefault <= kCommandBytesDefault);

// The limits a parser enforces, taken from the settings at startup.
struct ParserLimits {
  size_t bulk_bytes_max = kBulkBytesDefault;
  size_t args_count_max = kArgsCountDefault;
  size_t inline_bytes_max = kInlineBytesMax;
  size_t command_bytes_max = kCommandBytesDefault;
};

}  // namespace lockerd::protocol
