#include "protocol/cross_protocol.h"

#include <string_view>

#include "base/ascii.h"

namespace lockerd::protocol {

bool LooksLikeHttp(std::span<const std::string> args) {
  if (args.empty()) return false;
  // Redis closes on these two as well: no RESP command has these names.
  if (base::EqualsIgnoreCase(args[0], "POST") || base::EqualsIgnoreCase(args[0], "Host:")) return true;
  // "GET / HTTP/1.1" and other methods: a request line ends in the version.
  return args.size() == 3 && std::string_view(args[2]).substr(0, 5) == "HTTP/";
}

}  // namespace lockerd::protocol
