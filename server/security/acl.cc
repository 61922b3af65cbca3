#include "server/security/acl.h"

#include <algorithm>

#include "base/ascii.h"
#include "protocol/numbers.h"
#include "base/errors.h"
#include "base/glob.h"
#include "server/security/secret_equals.h"
#include "server/security/sha256.h"

namespace lockerd::server {
namespace {

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Quoted(std::string_view rule) { return "'" + errors::Echo(rule) + "'"; }

}  // namespace

AclUser::AclUser(std::string name, const AclCatalog& catalog)
    : name_(std::move(name)), catalog_(&catalog), allowed_(catalog.commands().size(), false) {}

AclUser AclUser::DefaultUser(const AclCatalog& catalog) {
  AclUser user("default", catalog);
  for (const std::string_view rule : {"on", "nopass", "~*", "+@all"}) user.ApplyRule(rule);
  return user;
}

std::string AclUser::ApplyRules(std::span<const std::string> rules) {
  for (const std::string& rule : rules) {
    std::string error = ApplyRule(rule);
    if (!error.empty()) return error;
  }
  return {};
}

std::string AclUser::ApplyRule(std::string_view rule) {
  std::string error = Apply(rule);
  unrestricted_ =
      all_keys_ && std::all_of(allowed_.begin(), allowed_.end(), [](bool b) { return b; });
  return error;
}

// Redis's rules, applied left to right (its ACL SETUSER documentation).
std::string AclUser::Apply(std::string_view rule) {
  const std::string lower = base::ToLower(rule);
  if (lower == "on" || lower == "off") {
    enabled_ = lower == "on";
  } else if (lower == "nopass" || lower == "resetpass") {
    password_hashes_.clear();
    nopass_ = lower == "nopass";
  } else if (!rule.empty() && (rule[0] == '>' || rule[0] == '#')) {
    std::string hash =
        rule[0] == '>' ? Sha256Hex(rule.substr(1)) : base::ToLower(rule.substr(1));
    if (hash.size() != 64 || !IsLowerHex(hash)) {
      return "the password hash in " + Quoted(rule) +
             " must be 64 hexadecimal characters (SHA-256)";
    }
    if (std::find(password_hashes_.begin(), password_hashes_.end(), hash) ==
        password_hashes_.end()) {
      password_hashes_.push_back(std::move(hash));
    }
    nopass_ = false;
  } else if (!rule.empty() && (rule[0] == '<' || rule[0] == '!')) {
    const std::string hash =
        rule[0] == '<' ? Sha256Hex(rule.substr(1)) : base::ToLower(rule.substr(1));
    const auto it = std::find(password_hashes_.begin(), password_hashes_.end(), hash);
    if (it == password_hashes_.end()) {
      // The rule holds a password: it is not echoed into logs.
      return std::string("a '") + rule[0] + "' rule removes a password the user does not have";
    }
    password_hashes_.erase(it);
  } else if (lower == "allkeys" || rule == "~*") {
    all_keys_ = true;
    key_patterns_.clear();
  } else if (lower == "resetkeys") {
    all_keys_ = false;
    key_patterns_.clear();
  } else if (!rule.empty() && rule[0] == '~') {
    if (all_keys_) {
      return "rule " + Quoted(rule) +
             " comes after allkeys (~*), where it has no effect; use "
             "resetkeys first";
    }
    key_patterns_.emplace_back(rule.substr(1));
  } else if (lower == "allchannels" || lower == "resetchannels" ||
             (!rule.empty() && rule[0] == '&')) {
    // No pub/sub here: nothing to allow or deny.
  } else if (lower == "reset") {
    for (const std::string_view part : {"resetpass", "resetkeys", "off", "-@all"}) ApplyRule(part);
  } else if (lower == "allcommands" || lower == "nocommands") {
    SetCommands(lower == "allcommands");
  } else if (!rule.empty() && (rule[0] == '+' || rule[0] == '-')) {
    return ApplyCommandRule(lower);
  } else {
    return "unknown rule " + Quoted(rule);
  }
  return {};
}

void AclUser::SetCommands(bool allowed) {
  allowed_.assign(allowed_.size(), allowed);
  all_commands_base_ = allowed;
  command_rules_.clear();
}

// +command, -command, +container|sub, +@category, -@category.
std::string AclUser::ApplyCommandRule(std::string_view rule) {
  const bool allow = rule[0] == '+';
  const std::string_view target = rule.substr(1);
  if (target == "@all") {
    SetCommands(allow);
    return {};
  }
  if (!target.empty() && target[0] == '@') {
    const auto category = FindAclCategory(target.substr(1));
    if (!category) return "unknown category in rule " + Quoted(rule) + " (see ACL CAT)";
    const std::span<const AclCommand> commands = catalog_->commands();
    for (size_t i = 0; i < commands.size(); ++i) {
      if (commands[i].categories & *category) allowed_[i] = allow;
    }
  } else {
    const std::span<const size_t> named = catalog_->Named(target);
    if (named.empty()) return "unknown command in rule " + Quoted(rule);
    for (const size_t i : named) allowed_[i] = allow;
  }
  command_rules_ += ' ';
  command_rules_ += rule;
  return {};
}

bool AclUser::Authenticates(std::string_view password) const {
  if (enabled_ && nopass_) return true;
  // Hashed and compared even for a disabled user, so that the time says
  // neither whether the user is on nor (all stored hashes are compared)
  // which password matched.
  const std::string hash = Sha256Hex(password);
  bool match = false;
  for (const std::string& stored : password_hashes_) match |= SecretEquals(hash, stored);
  return enabled_ && match;
}

bool AclUser::MayAccessKey(std::string_view key) const {
  if (all_keys_) return true;
  return std::any_of(key_patterns_.begin(), key_patterns_.end(),
                     [key](const std::string& pattern) { return GlobMatch(pattern, key); });
}

std::string AclUser::Describe() const {
  std::string line = "user " + name_ + (enabled_ ? " on" : " off");
  if (nopass_) line += " nopass";
  for (const std::string& hash : password_hashes_) line += " #" + hash;
  if (all_keys_) line += " ~*";
  for (const std::string& pattern : key_patterns_) line += " ~" + pattern;
  line += " resetchannels";
  line += all_commands_base_ ? " +@all" : " -@all";
  line += command_rules_;
  return line;
}

AclUsers::AclUsers(std::span<const AclUser> configured, std::string_view requirepass,
                   const AclCatalog& catalog) {
  const auto is_default = [](const AclUser& user) { return user.name() == "default"; };
  const auto defined = std::find_if(configured.begin(), configured.end(), is_default);
  AclUser default_user = defined != configured.end() ? *defined : AclUser::DefaultUser(catalog);
  if (!requirepass.empty()) {
    default_user.ApplyRule("resetpass");
    default_user.ApplyRule(">" + std::string(requirepass));
  }
  users_.push_back(std::make_shared<const AclUser>(std::move(default_user)));
  for (const AclUser& user : configured) {
    if (!is_default(user)) users_.push_back(std::make_shared<const AclUser>(user));
  }
}

std::shared_ptr<const AclUser> AclUsers::Find(std::string_view name) const {
  for (const auto& user : users_) {
    if (user->name() == name) return user;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const AclUser>> AclUsers::Sorted() const {
  std::vector<std::shared_ptr<const AclUser>> sorted = users_;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return sorted;
}

std::vector<size_t> AclKeyPositions(const AclCommand& command, std::span<const std::string> args) {
  std::vector<size_t> positions;
  if (command.keys_from_numkeys) {
    if (args.size() < 3) return positions;
    const auto count = protocol::ParseInt64(args[2]);
    if (!count || *count < 0 || static_cast<uint64_t>(*count) > args.size() - 3) return positions;
    for (size_t i = 0; i < static_cast<size_t>(*count); ++i) positions.push_back(3 + i);
    return positions;
  }
  if (command.first_key <= 0 || command.key_step <= 0) return positions;
  const int64_t argc = static_cast<int64_t>(args.size());
  const int64_t last = command.last_key < 0 ? argc + command.last_key : command.last_key;
  for (int64_t i = command.first_key; i <= last && i < argc; i += command.key_step) {
    positions.push_back(static_cast<size_t>(i));
  }
  return positions;
}

std::string AclCheck(const AclUser& user, size_t command, std::span<const std::string> args) {
  const AclCommand& spec = user.catalog().commands()[command];
  if (spec.exempt) return {};
  if (!user.MayRun(command)) return errors::NoPermCommand(user.name(), spec.name);
  for (const size_t position : AclKeyPositions(spec, args)) {
    if (!user.MayAccessKey(args[position])) return std::string(errors::kNoPermKey);
  }
  return {};
}

std::string AclCheckScriptCall(const AclUser& user, std::span<const std::string> args) {
  if (args.empty()) return {};
  const auto command = user.catalog().Find(args[0]);
  if (!command) return {};
  std::string denied = AclCheck(user, *command, args);
  if (denied.empty()) return {};
  return errors::AclFailureInScript(denied);
}

}  // namespace lockerd::server
