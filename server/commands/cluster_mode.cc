// What a Redis Cluster client asks to decide whether it talks to a cluster:
// lockerd answers as a standalone Redis does (cluster_enabled:0 in INFO, and
// CLUSTER, READONLY, READWRITE and ASKING refused with Redis's own words),
// because it does not speak the cluster protocol (slots, MOVED). Its
// members are peers behind one address each, not shards.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "base/ascii.h"
#include "server/engine/client.h"
#include "server/commands/handlers.h"
#include "server/engine/engine.h"
#include "base/errors.h"

namespace lockerd::server {
namespace {

// Redis 7's CLUSTER subcommands: a known one gets the refusal, another
// name the unknown-subcommand error, as redis-server answers.
constexpr std::array<std::string_view, 28> kClusterSubcommands = {
    "addslots",   "addslotsrange", "bumpepoch", "count-failure-reports", "countkeysinslot",
    "delslots",   "delslotsrange", "failover",  "flushslots",            "forget",
    "getkeysinslot", "help",       "info",      "keyslot",               "links",
    "meet",       "myid",          "myshardid", "nodes",                 "replicas",
    "replicate",  "reset",         "saveconfig", "set-config-epoch",     "setslot",
    "shards",     "slaves",        "slots",
};

}  // namespace

void CmdCluster(CommandContext& c) {
  const std::string& sub = c.args[1];
  const bool known = std::any_of(kClusterSubcommands.begin(), kClusterSubcommands.end(),
                                 [&sub](std::string_view name) { return base::EqualsIgnoreCase(sub, name); });
  if (!known) {
    return c.engine.ReplyError(c.client, errors::UnknownSubcommand(sub, "CLUSTER"));
  }
  c.engine.ReplyError(c.client, errors::kClusterDisabled);
}

void CmdClusterModeOnly(CommandContext& c) { c.engine.ReplyError(c.client, errors::kClusterDisabled); }

}  // namespace lockerd::server
