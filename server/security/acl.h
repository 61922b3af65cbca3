// Redis 6 style ACL users: who may run which commands on which keys.
// Users come from the config (`user <name> [rules...]` lines and --user
// flags); `requirepass` sets the default user's password. A rule list is
// applied left to right, as Redis applies it (see AclUser::ApplyRule).
//
// Passwords are kept only as SHA-256 hashes and compared in constant time.
// Users do not change after startup (no ACL SETUSER): clients and scripts
// in flight hold them by shared_ptr anyway, so that could change.
// Channels (pub/sub) do not exist here: channel rules are accepted and
// ignored, and ACL LIST shows `resetchannels`.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/security/acl_categories.h"

namespace lockerd::server {

class AclUser {
 public:
  // A new user, as Redis makes one: off, no password, no keys, no commands.
  // `catalog` names the commands its rules refer to; it outlives the user.
  AclUser(std::string name, const AclCatalog& catalog);
  // The default user when nothing configures it: on nopass ~* +@all.
  static AclUser DefaultUser(const AclCatalog& catalog);

  // Applies one rule; returns an error message, or "" when it applied.
  std::string ApplyRule(std::string_view rule);
  // Applies `rules` in order; stops at the first error and returns it.
  std::string ApplyRules(std::span<const std::string> rules);

  const std::string& name() const { return name_; }
  bool enabled() const { return enabled_; }
  bool nopass() const { return nopass_; }
  // True when the user is on and `password` is one of its passwords (any
  // password for a nopass user). Constant time in the password's bytes.
  bool Authenticates(std::string_view password) const;
  bool MayRun(size_t command_index) const { return allowed_[command_index]; }
  const AclCatalog& catalog() const { return *catalog_; }
  // Every command on every key: no check needed (the default user, mostly).
  bool unrestricted() const { return unrestricted_; }
  bool MayAccessKey(std::string_view key) const;
  // ACL LIST's line: "user alice on #<sha256> ~locks:* resetchannels -@all +@lock".
  std::string Describe() const;

 private:
  std::string Apply(std::string_view rule);
  std::string ApplyCommandRule(std::string_view rule);
  void SetCommands(bool allowed);

  std::string name_;
  const AclCatalog* catalog_;
  bool enabled_ = false;
  bool nopass_ = false;
  std::vector<std::string> password_hashes_;  // Lower-case hex SHA-256.
  bool all_keys_ = false;
  std::vector<std::string> key_patterns_;
  std::vector<bool> allowed_;  // Indexed like catalog_->commands().
  // The command rules since the last +@all / -@all, as ACL LIST shows them.
  bool all_commands_base_ = false;
  std::string command_rules_;
  bool unrestricted_ = false;
};

// Every user, the default user included.
class AclUsers {
 public:
  // The default user (defined by a `user default` line, else on nopass ~*
  // +@all), then `requirepass` if set (resetpass >password), then the
  // configured users.
  AclUsers(std::span<const AclUser> configured, std::string_view requirepass,
           const AclCatalog& catalog);

  std::shared_ptr<const AclUser> Find(std::string_view name) const;
  const std::shared_ptr<const AclUser>& default_user() const { return users_.front(); }
  // Sorted by name, as ACL USERS and ACL LIST show them.
  std::vector<std::shared_ptr<const AclUser>> Sorted() const;

 private:
  std::vector<std::shared_ptr<const AclUser>> users_;  // The default user first.
};

// Whether `user` may run `command` (an index into its catalog) with
// `args` (its name first): "" when it may, else the error reply's text:
// NOPERM for the command, or for a key outside the user's patterns.
std::string AclCheck(const AclUser& user, size_t command, std::span<const std::string> args);
// The same for a command a script calls (redis.call): "" when allowed or
// when the name is no command (the script layer reports that), else
// "ERR ACL failure in script: ..." as Redis 7 says it.
std::string AclCheckScriptCall(const AclUser& user, std::span<const std::string> args);
// The argument positions of `command`'s keys in `args` (name first); an
// EVAL with a bad numkeys has none (the command reports that itself).
std::vector<size_t> AclKeyPositions(const AclCommand& command, std::span<const std::string> args);

}  // namespace lockerd::server
