#include "server/acl_categories.h"

#include <map>
#include <string>
#include <vector>

#include "protocol/ascii.h"
#include "server/command_table.h"

namespace lockerd::server {
namespace {

constexpr uint32_t kKs = kAclKeyspace;
constexpr uint32_t kRd = kAclRead;
constexpr uint32_t kWr = kAclWrite;
constexpr uint32_t kStr = kAclString;
constexpr uint32_t kFa = kAclFast;
constexpr uint32_t kSl = kAclSlow;
constexpr uint32_t kAd = kAclAdmin | kAclDangerous;  // Redis's admin commands are all dangerous.
constexpr uint32_t kDa = kAclDangerous;
constexpr uint32_t kCo = kAclConnection;
constexpr uint32_t kSc = kAclScripting;
constexpr uint32_t kBl = kAclBlocking;
constexpr uint32_t kLk = kAclLock;
constexpr uint32_t kTx = kAclTransaction;

// Bit i is kCategoryNames[i].
constexpr std::string_view kCategoryNames[] = {
    "keyspace", "read",      "write",      "string",    "fast",     "slow",
    "admin",    "dangerous", "connection", "scripting", "blocking", "lock",
    "transaction",
};

// Categories per command, as Redis gives its equivalents, plus @lock for
// the commands that take, renew, hand over, free or read locks (the SET
// NX / GET / DEL surface lock libraries use included). Differences from
// Redis: SCRIPT FLUSH and SCRIPT KILL are @admin too, since they reach
// every client's scripts.
struct Categories {
  std::string_view name;
  uint32_t categories;
};
constexpr Categories kCategories[] = {
    {"acl|cat", kSl},
    {"acl|deluser", kAd | kSl},
    {"acl|help", kSl},
    {"acl|list", kAd | kSl},
    {"acl|setuser", kAd | kSl},
    {"acl|users", kAd | kSl},
    {"acl|whoami", kSl},
    {"asking", kFa},
    {"auth", kFa | kCo},
    {"client|getname", kSl | kCo},
    {"client|help", kSl | kCo},
    {"client|id", kSl | kCo},
    {"client|info", kSl | kCo},
    {"client|kill", kAd | kSl | kCo},
    {"client|list", kAd | kSl | kCo},
    {"client|setinfo", kSl | kCo},
    {"client|setname", kSl | kCo},
    {"cluster", kSl},
    {"command", kSl | kCo},
    {"command|count", kSl | kCo},
    {"command|docs", kSl | kCo},
    {"command|help", kSl | kCo},
    {"command|info", kSl | kCo},
    {"command|list", kSl | kCo},
    {"config|get", kAd | kSl},
    {"config|help", kSl},
    {"config|resetstat", kAd | kSl},
    {"config|set", kAd | kSl},
    {"dbsize", kKs | kRd | kFa},
    {"del", kLk | kKs | kWr | kSl},
    {"delex", kLk | kStr | kWr | kFa},
    {"delifeq", kLk | kStr | kWr | kFa},
    {"discard", kFa | kTx},
    {"echo", kFa | kCo},
    {"eval", kSl | kSc},
    {"eval_ro", kSl | kSc},
    {"evalsha", kSl | kSc},
    {"evalsha_ro", kSl | kSc},
    {"exec", kSl | kTx},
    {"exists", kKs | kRd | kFa},
    {"expire", kKs | kWr | kFa},
    {"extend", kLk | kWr | kFa},
    {"get", kLk | kStr | kRd | kFa},
    {"hello", kFa | kCo},
    {"info", kSl | kDa},
    {"keys", kKs | kRd | kSl | kDa},
    {"lock", kLk | kWr | kSl | kBl},
    {"lockinfo", kLk | kRd | kFa},
    {"multi", kFa | kTx},
    {"peer", kAd | kFa},
    {"pexpire", kKs | kWr | kFa},
    {"ping", kFa | kCo},
    {"pttl", kKs | kRd | kFa},
    {"quit", kFa | kCo},
    {"readonly", kFa | kCo},
    {"readwrite", kFa | kCo},
    {"release", kLk | kWr | kFa},
    {"reset", kFa | kCo},
    {"scan", kKs | kRd | kSl},
    {"script|exists", kSl | kSc},
    {"script|flush", kAd | kSl | kSc},
    {"script|help", kSl | kSc},
    {"script|kill", kAd | kSl | kSc},
    {"script|load", kSl | kSc},
    {"select", kKs | kFa},
    {"set", kLk | kStr | kWr | kSl},
    {"shutdown", kAd | kSl},
    {"time", kFa},
    {"ttl", kKs | kRd | kFa},
    {"type", kKs | kRd | kFa},
    {"unlink", kKs | kWr | kFa},
    {"unwatch", kFa | kTx},
    {"update", kLk | kWr | kFa},
    {"wait", kLk | kRd | kSl | kBl},
    {"watch", kFa | kTx},
};

uint32_t CategoriesOf(std::string_view name) {
  for (const Categories& entry : kCategories) {
    if (entry.name == name) return entry.categories;
  }
  return 0;  // A unit test checks that every command has some.
}

bool IsEvalName(std::string_view name) {
  return name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro";
}

struct Index {
  std::vector<AclCommand> commands;
  std::map<std::string, size_t, std::less<>> exact;
  // What a rule's name covers: a container names every subcommand.
  std::map<std::string, std::vector<size_t>, std::less<>> by_name;
};

void AddCommand(Index& index, const CommandSpec& spec) {
  AclCommand command;
  command.name = spec.name;
  command.categories = CategoriesOf(spec.name);
  command.first_key = spec.first_key;
  command.last_key = spec.last_key;
  command.key_step = spec.key_step;
  command.keys_from_numkeys = IsEvalName(spec.name);
  command.exempt = (spec.flags & kFlagNoAuth) != 0;
  index.exact[std::string(spec.name)] = index.commands.size();
  index.by_name[std::string(spec.name)].push_back(index.commands.size());
  index.commands.push_back(command);
}

const Index& TheIndex() {
  static const Index index = [] {
    Index built;
    for (const CommandSpec& spec : AllCommands()) {
      if (spec.subcommands.empty()) {
        AddCommand(built, spec);
        continue;
      }
      std::vector<size_t> all;
      if (spec.handler != nullptr) {  // COMMAND alone runs too.
        all.push_back(built.commands.size());
        AddCommand(built, spec);
      }
      for (const CommandSpec& sub : spec.subcommands) {
        all.push_back(built.commands.size());
        AddCommand(built, sub);
      }
      built.by_name[std::string(spec.name)] = all;
    }
    // Script-only commands (script_keys.cc), so rules can name them.
    static constexpr AclCommand kScriptOnly[] = {
        {"expire", kKs | kWr | kFa, 1, 1, 1},
        {"pexpire", kKs | kWr | kFa, 1, 1, 1},
        {"unlink", kKs | kWr | kFa, 1, -1, 1},
    };
    for (const AclCommand& command : kScriptOnly) {
      built.exact[std::string(command.name)] = built.commands.size();
      built.by_name[std::string(command.name)].push_back(built.commands.size());
      built.commands.push_back(command);
    }
    return built;
  }();
  return index;
}

}  // namespace

std::span<const AclCommand> AclCommands() { return TheIndex().commands; }

std::span<const size_t> AclCommandsNamed(std::string_view name) {
  const Index& index = TheIndex();
  const auto it = index.by_name.find(protocol::ToLower(name));
  if (it == index.by_name.end()) return {};
  return it->second;
}

std::optional<size_t> FindAclCommand(std::string_view name) {
  const Index& index = TheIndex();
  const auto it = index.exact.find(protocol::ToLower(name));
  if (it == index.exact.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> FindAclCategory(std::string_view name) {
  const std::string lower = protocol::ToLower(name);
  for (size_t i = 0; i < std::size(kCategoryNames); ++i) {
    if (kCategoryNames[i] == lower) return 1u << i;
  }
  return std::nullopt;
}

std::span<const std::string_view> AclCategoryNames() { return kCategoryNames; }

}  // namespace lockerd::server
