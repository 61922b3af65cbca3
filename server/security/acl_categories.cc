#include "server/security/acl_categories.h"

#include "base/ascii.h"

namespace lockerd::server {
namespace {

// Bit i is kCategoryNames[i].
constexpr std::string_view kCategoryNames[] = {
    "keyspace", "read",      "write",      "string",    "fast",     "slow",
    "admin",    "dangerous", "connection", "scripting", "blocking", "lock",
    "transaction",
};

}  // namespace

AclCatalog::AclCatalog(std::vector<AclCommand> commands) : commands_(std::move(commands)) {
  for (size_t i = 0; i < commands_.size(); ++i) {
    const std::string name(commands_[i].name);
    exact_[name] = i;
    by_name_[name].push_back(i);
    if (const size_t bar = name.find('|'); bar != std::string::npos) {
      by_name_[name.substr(0, bar)].push_back(i);
    }
  }
}

std::optional<size_t> AclCatalog::Find(std::string_view name) const {
  const auto it = exact_.find(base::ToLower(name));
  if (it == exact_.end()) return std::nullopt;
  return it->second;
}

std::span<const size_t> AclCatalog::Named(std::string_view name) const {
  const auto it = by_name_.find(base::ToLower(name));
  if (it == by_name_.end()) return {};
  return it->second;
}

std::optional<uint32_t> FindAclCategory(std::string_view name) {
  const std::string lower = base::ToLower(name);
  for (size_t i = 0; i < std::size(kCategoryNames); ++i) {
    if (kCategoryNames[i] == lower) return 1u << i;
  }
  return std::nullopt;
}

std::span<const std::string_view> AclCategoryNames() { return kCategoryNames; }

}  // namespace lockerd::server
