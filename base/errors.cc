#include "base/errors.h"

#include <algorithm>

#include "base/ascii.h"

namespace lockerd::server::errors {

std::string Echo(std::string_view client_bytes) {
  std::string out;
  const size_t n = std::min(client_bytes.size(), kEchoBytesMax);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char c = client_bytes[i];
    if (c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

std::string UnknownCommand(std::string_view name, std::span<const std::string> args) {
  // Redis: "ERR unknown command 'foo', with args beginning with: 'a' 'b' ".
  std::string text = "ERR unknown command '" + Echo(name) + "', with args beginning with: ";
  size_t echoed = 0;
  for (const std::string& arg : args) {
    if (echoed + arg.size() > kEchoBytesMax) break;
    text += "'" + Echo(arg) + "' ";
    echoed += arg.size();
  }
  return text;
}

std::string WrongArity(std::string_view name) {
  return "ERR wrong number of arguments for '" + Echo(base::ToLower(name)) + "' command";
}

std::string UnknownSubcommand(std::string_view subcommand, std::string_view command) {
  return "ERR unknown subcommand '" + Echo(subcommand) + "'. Try " + std::string(command) +
         " HELP.";
}

std::string KeyTooLong(size_t key_bytes_max) {
  return "ERR key or owner is longer than max-key-bytes (" + std::to_string(key_bytes_max) + ")";
}

std::string MaxKeys(size_t max_keys) {
  return "OOM command not allowed when the number of leases has reached maxkeys (" +
         std::to_string(max_keys) + ")";
}

std::string NoPermCommand(std::string_view user, std::string_view command) {
  return "NOPERM User " + Echo(user) + " has no permissions to run the '" + Echo(command) +
         "' command";
}

std::string TtlRange(int64_t max_lease_ms) {
  // Names the setting: a library's lock timeout above it is refused, and
  // the user must know what to raise.
  return "ERR ttl must be between 1 and " + std::to_string(max_lease_ms) + " (max-lease-ms)";
}

}  // namespace lockerd::server::errors
