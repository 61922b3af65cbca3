#include "server/engine/command_spec.h"

#include <algorithm>

#include "base/ascii.h"

namespace lockerd::server {
namespace {

const CommandSpec* FindIn(std::span<const CommandSpec> table, std::string_view prefix,
                          std::string_view name) {
  // Names are short: fold to lower case on the stack.
  char folded[64];
  if (prefix.size() + name.size() > sizeof folded) return nullptr;
  size_t n = 0;
  for (const char c : prefix) folded[n++] = c;
  for (const char c : name) folded[n++] = base::AsciiLower(c);
  const std::string_view key(folded, n);
  const auto it = std::lower_bound(table.begin(), table.end(), key,
                                   [](const CommandSpec& spec, std::string_view k) {
                                     return spec.name < k;
                                   });
  return it != table.end() && it->name == key ? &*it : nullptr;
}

}  // namespace

const CommandSpec* FindCommandIn(std::span<const CommandSpec> table, std::string_view name) {
  return FindIn(table, {}, name);
}

const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name) {
  char prefix[32];
  if (parent.name.size() + 1 > sizeof prefix) return nullptr;
  std::copy(parent.name.begin(), parent.name.end(), prefix);
  prefix[parent.name.size()] = '|';
  return FindIn(parent.subcommands, std::string_view(prefix, parent.name.size() + 1), name);
}

}  // namespace lockerd::server
