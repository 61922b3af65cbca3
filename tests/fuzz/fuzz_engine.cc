// Fuzzes the command layer: the Engine (server/engine/engine.h) with in-memory
// clients and a fake clock, fed whole commands, as the libuv server feeds
// it. Every reply must be well-formed RESP; nothing may crash, trip a
// CHECK, leak or hang; at the end every timer is run out and the engine
// must settle.
//
// Input: lines (tests/fuzz/README.md has examples).
//   @trio @auth @tight   first line only, any of: three members wired by an
//                        in-memory network (else a member alone); a
//                        requirepass; small limits (maxkeys, waiters, cache)
//   <d> <args...>        client d (0-9) sends a command; args are split like
//                        an inline command: "quoted", \xHH escapes. With
//                        @trio, client d is on member d % 3.
//   +<ms>                the clock moves on; timers fire on the way
//   w<ms> / w-<ms>       the wall clock steps (the fencing-token floor)
//   ~<d>                 client d disconnects
//   >                    the network delivers everything, in order
//   ><k>                 the network delivers its k-th message (reordering)
//   !<k>                 the network drops its k-th message
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>
#include <string>
#include <string_view>

#include "server/commands/command_table.h"
#include "server/security/acl.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using lockerd::fuzz::Harness;
using lockerd::fuzz::LeadingNumber;

constexpr size_t kLinesMax = 256;

struct Options {
  bool trio = false;
  bool auth = false;
  bool tight = false;
  bool acl = false;
};

// @acl: users with restricted commands and keys, one disabled.
void AddUsers(lockerd::server::Config& config) {
  const std::vector<std::vector<std::string>> users = {
      {"alice", "on", ">pw", "~a*", "-@all", "+@lock", "+@scripting", "+acl|whoami", "+ping"},
      {"bob", "on", "nopass", "allkeys", "+@all", "-@dangerous", "-del"},
      {"carol", "off", ">pw", "allkeys", "+@all"},
  };
  for (const auto& rules : users) {
    lockerd::server::AclUser user(rules[0], lockerd::server::CommandAclCatalog());
    if (!user.ApplyRules(std::span(rules).subspan(1)).empty()) std::abort();
    config.users.push_back(std::move(user));
  }
}

lockerd::server::Config ConfigFor(const Options& options) {
  lockerd::server::Config config;
  // Low limits keep runs short: a runaway script stops after 10 ms.
  config.script_time_limit_ms = 10;
  config.script_memory_limit = 4u << 20;
  config.script_cache_max = 16;
  if (options.auth) config.requirepass = "pw";
  if (options.acl) AddUsers(config);
  if (options.tight) {
    config.maxkeys = 3;
    config.maxwaiters_per_key = 2;
    config.script_cache_max = 2;
    config.max_key_bytes = 16;
    config.script_max_keys = 4;
    config.script_max_bytes = 256;
  }
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines = lockerd::fuzz::SplitLines(input);
  Options options;
  if (!lines.empty() && !lines[0].empty() && lines[0][0] == '@') {
    options.trio = lines[0].find("@trio") != std::string_view::npos;
    options.auth = lines[0].find("@auth") != std::string_view::npos;
    options.tight = lines[0].find("@tight") != std::string_view::npos;
    options.acl = lines[0].find("@acl") != std::string_view::npos;
  }
  const size_t members = options.trio ? 3 : 1;
  Harness harness(ConfigFor(options), members, members);

  size_t executed = 0;
  for (const std::string_view line : lines) {
    if (line.empty() || ++executed > kLinesMax) continue;
    const char op = line[0];
    const std::string_view rest = line.substr(1);
    if (op >= '0' && op <= '9') {
      const size_t client = static_cast<size_t>(op - '0');
      auto args = lockerd::fuzz::SplitArgs(rest);
      if (!args || args->empty()) continue;
      harness.Send(client % members, (client / members) % Harness::kClientSlots, std::move(*args));
    } else if (op == '+') {
      harness.Advance(LeadingNumber(rest).value_or(1));
    } else if (op == 'w') {
      const bool back = !rest.empty() && rest[0] == '-';
      const int64_t ms = LeadingNumber(back ? rest.substr(1) : rest).value_or(1000);
      harness.StepWall(back ? -ms : ms);
    } else if (op == '~') {
      const auto client = LeadingNumber(rest);
      if (!client) continue;
      const auto c = static_cast<size_t>(*client % 10);
      harness.Disconnect(c % members, (c / members) % Harness::kClientSlots);
    } else if (op == '>' || op == '!') {
      auto& network = harness.network();
      if (network.empty()) continue;
      const auto k = LeadingNumber(rest);
      if (op == '>' && !k) {
        for (int i = 0; i < 10'000 && !network.empty(); ++i) harness.Deliver(0);
        continue;
      }
      const size_t index = static_cast<size_t>(k.value_or(0)) % network.size();
      if (op == '>') {
        harness.Deliver(index);
      } else {
        network.erase(network.begin() + static_cast<std::ptrdiff_t>(index));
      }
    }
  }
  harness.Finish();
  return 0;
}
