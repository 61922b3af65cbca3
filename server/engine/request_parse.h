// Argument parsing for the lock commands: each function reads a command's
// arguments into a request, or returns the exact error reply, before any
// state is touched ("parse, then act"). A ttl becomes checked milliseconds
// here, once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "base/ascii.h"

namespace lockerd::server {

using base::EqualsIgnoreCase;
using Args = std::span<const std::string>;

struct LockArgs {
  std::string_view key;
  std::string_view owner;
  int64_t ttl_ms = 0;
  bool wait = false;
  int64_t wait_ms = 0;  // With wait: 0 waits forever.
};

// SET key value [NX | XX | IFEQ old] [GET] [PX ms | EX s | KEEPTTL], read
// by one parser for every caller: the SET command, and scripts and MULTI
// (script_keys.cc), so that the same mistake gets the same reply.
struct SetArgs {
  std::string_view key;
  std::string_view owner;
  bool nx = false;
  bool xx = false;
  // SET key new IFEQ old ...: compare-and-set of the owner (Redis 8.4).
  bool ifeq = false;
  std::string_view old_owner;
  bool get = false;      // Answer the owner before, whether it set or not.
  bool keepttl = false;  // Then ttl_ms is 0: the lease keeps its deadline.
  int64_t ttl_ms = 0;

  // SET key value NX PX|EX n: the lock libraries' form, run as a LOCK that
  // only takes a free key.
  bool NxLock() const { return nx && !get && !keepttl; }
  // SET key new IFEQ old without GET: the lease handed over in one round.
  // Any other valid form (XX, GET, KEEPTTL, no condition) runs as a one-key
  // transaction (script_keys.cc's SET).
  bool Swap() const { return ifeq && !get; }
};

// DELEX key [IFEQ value] (Redis 8.4): a DEL of one key, or with IFEQ a
// RELEASE by its owner. Redis's other conditions (IFNE, IFDEQ, IFDNE) are
// not offered.
struct DelExArgs {
  std::string_view key;
  bool ifeq = false;
  std::string_view owner;  // With ifeq.
};

// EXPIRE / PEXPIRE key n [NX | XX | GT | LT ...]: scripts only (a client
// renews with EXTEND).
struct ExpireArgs {
  int64_t ttl_ms = 0;  // n in milliseconds; <= 0 ends the lease, as in Redis.
  bool nx = false;
  bool xx = false;
  bool gt = false;
  bool lt = false;
};

struct ScanArgs {
  uint64_t cursor = 0;
  std::string_view pattern;  // Empty: every key.
  size_t count = 0;
  bool type_filter = false;
  bool type_matches = true;  // TYPE string matches leases; any other type nothing.
};

// A ttl argument: an integer in 1..max_lease_ms.
std::variant<int64_t, std::string> ParseTtl(std::string_view text, int64_t max_lease_ms);
// A WAIT timeout: an integer >= 0 (0 = forever) and at most a year.
std::variant<int64_t, std::string> ParseWaitTimeout(std::string_view text);

// LOCK key owner ttl [WAIT timeout]
std::variant<LockArgs, std::string> ParseLock(Args args, int64_t max_lease_ms);
// SET key owner [NX | XX | IFEQ old] [GET] PX ms | EX s | KEEPTTL; options in
// any order, as Redis reads them (its errors for its mistakes), and a ttl of
// at most max_lease_ms.
std::variant<SetArgs, std::string> ParseSet(Args args, int64_t max_lease_ms);
// DELEX key [IFEQ value], for the command and for scripts.
std::variant<DelExArgs, std::string> ParseDelEx(Args args);
// EXPIRE or PEXPIRE (`unit_ms` 1000 or 1) as Redis 7 reads it: the options
// first, then n, then n's overflow as milliseconds or as a deadline from
// `wall_ms`. The ttl is not bounded here: a free key answers 0 before
// max-lease-ms is asked about.
std::variant<ExpireArgs, std::string> ParseExpire(Args args, int64_t unit_ms, int64_t wall_ms);
// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]
std::variant<ScanArgs, std::string> ParseScan(Args args);

}  // namespace lockerd::server
