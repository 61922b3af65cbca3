#include "server/engine/request_parse.h"

#include <algorithm>

#include "protocol/numbers.h"
#include "base/errors.h"
#include "server/config/limits.h"

namespace lockerd::server {

std::variant<int64_t, std::string> ParseTtl(std::string_view text, int64_t max_lease_ms) {
  const auto ttl = protocol::ParseInt64(text);
  if (!ttl) return std::string(errors::kNotInteger);
  if (*ttl < 1 || *ttl > max_lease_ms) return errors::TtlRange(max_lease_ms);
  return *ttl;
}

std::variant<int64_t, std::string> ParseWaitTimeout(std::string_view text) {
  const auto timeout = protocol::ParseInt64(text);
  if (!timeout) return std::string(errors::kTimeoutNotInteger);
  if (*timeout < 0) return std::string(errors::kTimeoutNegative);
  if (*timeout > kWaitTimeoutMsMax) return std::string(errors::kTimeoutOutOfRange);
  return *timeout;
}

std::variant<LockArgs, std::string> ParseLock(Args args, int64_t max_lease_ms) {
  if (args.size() != 4 && args.size() != 6) return std::string(errors::kSyntax);
  LockArgs lock;
  lock.key = args[1];
  lock.owner = args[2];
  auto ttl = ParseTtl(args[3], max_lease_ms);
  if (auto* error = std::get_if<std::string>(&ttl)) return std::move(*error);
  lock.ttl_ms = std::get<int64_t>(ttl);
  if (args.size() == 6) {
    if (!base::EqualsIgnoreCase(args[4], "WAIT")) return std::string(errors::kSyntax);
    auto timeout = ParseWaitTimeout(args[5]);
    if (auto* error = std::get_if<std::string>(&timeout)) return std::move(*error);
    lock.wait = true;
    lock.wait_ms = std::get<int64_t>(timeout);
  }
  return lock;
}

std::variant<SetArgs, std::string> ParseSet(Args args, int64_t max_lease_ms) {
  // Read every option first, as Redis does, so that a syntax error wins over
  // a form we do not offer.
  SetArgs set;
  set.key = args[1];
  set.owner = args[2];
  bool absolute = false;         // EXAT, PXAT.
  std::string_view expire_kind;  // As Redis: one of them, repeated at will (the last wins).
  std::string_view expire_text;
  int64_t unit_ms = 1;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string& option = args[i];
    if (base::EqualsIgnoreCase(option, "NX")) {
      set.nx = true;
    } else if (base::EqualsIgnoreCase(option, "XX")) {
      set.xx = true;
    } else if (base::EqualsIgnoreCase(option, "GET")) {
      set.get = true;
    } else if (base::EqualsIgnoreCase(option, "IFEQ") && i + 1 < args.size()) {
      set.ifeq = true;
      set.old_owner = args[++i];
    } else if (base::EqualsIgnoreCase(option, "KEEPTTL")) {
      if (!expire_kind.empty() && !base::EqualsIgnoreCase(expire_kind, option)) return std::string(errors::kSyntax);
      expire_kind = option;
      set.keepttl = true;
    } else if ((base::EqualsIgnoreCase(option, "EX") || base::EqualsIgnoreCase(option, "PX") ||
                base::EqualsIgnoreCase(option, "EXAT") || base::EqualsIgnoreCase(option, "PXAT")) &&
               i + 1 < args.size()) {
      if (!expire_kind.empty() && !base::EqualsIgnoreCase(expire_kind, option)) return std::string(errors::kSyntax);
      expire_kind = option;
      if (base::EqualsIgnoreCase(option, "EXAT") || base::EqualsIgnoreCase(option, "PXAT")) absolute = true;
      unit_ms = base::EqualsIgnoreCase(option, "EX") ? 1000 : 1;
      expire_text = args[++i];
    } else {
      return std::string(errors::kSyntax);
    }
  }
  if (int{set.nx} + int{set.xx} + int{set.ifeq} > 1) return std::string(errors::kSyntax);
  if (absolute || expire_kind.empty()) return std::string(errors::kSetForm);
  if (set.keepttl) return set;
  const auto expire = protocol::ParseInt64(expire_text);
  if (!expire) return std::string(errors::kNotInteger);
  if (*expire <= 0 || *expire > INT64_MAX / unit_ms) return std::string(errors::kInvalidExpireSet);
  set.ttl_ms = *expire * unit_ms;
  if (set.ttl_ms > max_lease_ms) return errors::TtlRange(max_lease_ms);
  return set;
}

std::variant<DelExArgs, std::string> ParseDelEx(Args args) {
  if (args.size() == 2) return DelExArgs{args[1], false, {}};
  if (args.size() != 4) return std::string(errors::kSyntax);
  if (!base::EqualsIgnoreCase(args[2], "IFEQ")) return std::string(errors::kDelExOnlyIfEq);
  return DelExArgs{args[1], true, args[3]};
}

std::variant<ExpireArgs, std::string> ParseExpire(Args args, int64_t unit_ms, int64_t wall_ms) {
  ExpireArgs expire;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string& option = args[i];
    if (base::EqualsIgnoreCase(option, "NX")) {
      expire.nx = true;
    } else if (base::EqualsIgnoreCase(option, "XX")) {
      expire.xx = true;
    } else if (base::EqualsIgnoreCase(option, "GT")) {
      expire.gt = true;
    } else if (base::EqualsIgnoreCase(option, "LT")) {
      expire.lt = true;
    } else {
      return errors::UnsupportedOption(option);
    }
  }
  if (expire.nx && (expire.xx || expire.gt || expire.lt)) return std::string(errors::kExpireNxAndOthers);
  if (expire.gt && expire.lt) return std::string(errors::kExpireGtAndLt);
  const auto amount = protocol::ParseInt64(args[2]);
  if (!amount) return std::string(errors::kNotInteger);
  if (*amount > INT64_MAX / unit_ms || *amount < INT64_MIN / unit_ms ||
      *amount * unit_ms > INT64_MAX - wall_ms) {
    return errors::InvalidExpireTime(base::ToLower(args[0]));
  }
  expire.ttl_ms = *amount * unit_ms;
  return expire;
}

std::variant<ScanArgs, std::string> ParseScan(Args args) {
  ScanArgs scan;
  const auto cursor = protocol::ParseInt64(args[1]);
  if (!cursor || *cursor < 0) return std::string(errors::kInvalidCursor);
  scan.cursor = static_cast<uint64_t>(*cursor);
  scan.count = kScanCountDefault;
  for (size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return std::string(errors::kSyntax);
    const std::string& option = args[i];
    const std::string& value = args[i + 1];
    if (base::EqualsIgnoreCase(option, "MATCH")) {
      scan.pattern = value;
    } else if (base::EqualsIgnoreCase(option, "COUNT")) {
      const auto count = protocol::ParseInt64(value);
      if (!count) return std::string(errors::kNotInteger);
      if (*count < 1) return std::string(errors::kSyntax);
      scan.count = static_cast<size_t>(std::min<int64_t>(*count, kScanCountMax));
    } else if (base::EqualsIgnoreCase(option, "TYPE")) {
      scan.type_filter = true;
      scan.type_matches = base::EqualsIgnoreCase(value, "string");
    } else {
      return std::string(errors::kSyntax);
    }
  }
  return scan;
}

}  // namespace lockerd::server
