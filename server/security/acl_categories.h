// ACL categories and the catalog of commands ACL rules name. The catalog
// is given by whoever owns the commands (server/commands/command_acl.cc
// builds it from the command table): every command, subcommands one by one
// ("client|kill"), each with its categories and an index, so a user's
// permissions are one bit per command.
//
// It does not decide anything: acl.h holds users and their checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lockerd::server {

enum AclCategory : uint32_t {
  kAclKeyspace = 1u << 0,
  kAclRead = 1u << 1,
  kAclWrite = 1u << 2,
  kAclString = 1u << 3,
  kAclFast = 1u << 4,
  kAclSlow = 1u << 5,
  kAclAdmin = 1u << 6,
  kAclDangerous = 1u << 7,
  kAclConnection = 1u << 8,
  kAclScripting = 1u << 9,
  kAclBlocking = 1u << 10,
  kAclLock = 1u << 11,
  kAclTransaction = 1u << 12,
};

// What ACL knows of one command: where its keys are (as COMMAND INFO
// says; EVAL's come from numkeys) and its categories.
struct AclCommand {
  std::string_view name;  // Lower case; "client|kill" for a subcommand.
  uint32_t categories = 0;
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
  bool keys_from_numkeys = false;  // EVAL and its forms: argv[2] counts the keys.
  bool exempt = false;             // No-auth commands (AUTH, HELLO, PEER...): never refused.
};

// The commands ACL rules can name, in a fixed order (the indexes users'
// bits use). A subcommand ("client|kill") is also named by its container
// ("client"), as is the container itself when it runs alone ("command").
class AclCatalog {
 public:
  explicit AclCatalog(std::vector<AclCommand> commands);

  std::span<const AclCommand> commands() const { return commands_; }
  // The index of "name" or "container|sub" (any case), or nullopt.
  std::optional<size_t> Find(std::string_view name) const;
  // Indexes of the commands named `name` by a rule: one, or every
  // subcommand of a container ("client"). Empty when unknown.
  std::span<const size_t> Named(std::string_view name) const;

 private:
  std::vector<AclCommand> commands_;
  std::map<std::string, size_t, std::less<>> exact_;
  std::map<std::string, std::vector<size_t>, std::less<>> by_name_;
};

// "keyspace" -> kAclKeyspace (without the '@'); nullopt when unknown.
std::optional<uint32_t> FindAclCategory(std::string_view name);
// Every category name, in ACL CAT's order ("all" is not one of them).
std::span<const std::string_view> AclCategoryNames();

}  // namespace lockerd::server
