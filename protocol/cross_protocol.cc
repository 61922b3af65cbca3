#include "protocol/cross_protocol.h"

#include <cctype>
#include <string_view>

namespace lockerd::protocol {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool LooksLikeHttp(std::span<const std::string> args) {
  if (args.empty()) return false;
  // Redis closes on these two as well: no RESP command has these names.
  if (EqualsIgnoreCase(args[0], "POST") || EqualsIgnoreCase(args[0], "Host:")) return true;
  // "GET / HTTP/1.1" and other methods: a request line ends in the version.
  return args.size() == 3 && std::string_view(args[2]).substr(0, 5) == "HTTP/";
}

}  // namespace lockerd::protocol
