// MEMBERS: the cluster's configuration, and changes to it (issue 18;
// docs/SPEC.md, "Membership"). Kept out of Redis Cluster's CLUSTER
// namespace, so that cluster-aware clients still see a standalone server.
//
//   MEMBERS                          one entry per member of the configuration
//   MEMBERS ADD host:port [LEARNER]  the member joins, as a voter unless LEARNER
//   MEMBERS REMOVE host:port         a voter or a learner leaves
//   MEMBERS PROMOTE|DEMOTE host:port a learner votes / a voter stops voting
//
// A change is a round of the configuration register among the voters, then
// the settle (cluster/node_membership.cc); the reply comes when the new
// configuration is chosen and settled. Members are named by the addresses
// of the `cluster` list, whose order gives their ids.
#include <bit>
#include <optional>
#include <string>
#include <vector>

#include "base/ascii.h"
#include "base/errors.h"
#include "cluster/membership_change.h"
#include "server/commands/handlers.h"
#include "server/engine/client.h"
#include "server/engine/engine.h"

namespace lockerd::server {
namespace {

using Kind = cluster::MembershipRequest::Kind;

// The id of the member listed at `address`, if any.
std::optional<cluster::MemberId> MemberAt(const Config& config, std::string_view address) {
  for (size_t i = 0; i < config.cluster.size(); ++i) {
    if (base::EqualsIgnoreCase(config.cluster[i], address)) return static_cast<cluster::MemberId>(i);
  }
  return std::nullopt;
}

std::string ListText(const Config& config) {
  std::string text;
  for (const std::string& address : config.cluster) text += (text.empty() ? "" : ",") + address;
  return text;
}

void ListMembers(CommandContext& c) {
  const cluster::Node& node = c.engine.node();
  const cluster::Membership& membership = node.membership();
  const Config& config = c.engine.config();
  std::vector<PeerStatus> peers;
  if (c.engine.process().peer_status) peers = c.engine.process().peer_status();
  const auto reachable = [&](cluster::MemberId member) {
    if (member == c.engine.self()) return true;
    for (const PeerStatus& peer : peers) {
      if (peer.member == member) return peer.reachable;
    }
    return false;
  };
  if (membership.epoch == 0) {
    // Joining: the members it asks are no configuration.
    return c.engine.ReplyError(
        c.client, "TRYAGAIN this member is joining: it has not learned the cluster's configuration yet "
                  "(INFO cluster, and its log, say what it waits for)");
  }
  const cluster::ConfigValue& register_value = node.membership_state().value;
  // The register's value is this configuration and says it is settled:
  // every voter holds every key (a new voter is caught up by the settle).
  const bool settled = register_value.membership == membership && register_value.settled;
  protocol::RespWriter& writer = c.client.writer();
  writer.WriteArrayHeader(static_cast<size_t>(std::popcount(membership.members())));
  cluster::ForEachMember(membership.members(), [&](cluster::MemberId member) {
    const bool voter = membership.IsVoter(member);
    writer.WriteMapHeader(7);
    writer.WriteBulk("id");
    writer.WriteInteger(member);
    writer.WriteBulk("address");
    writer.WriteBulk(member < config.cluster.size() ? config.cluster[member] : "");
    writer.WriteBulk("role");
    writer.WriteBulk(voter ? "voter" : "learner");
    writer.WriteBulk("self");
    writer.WriteInteger(member == c.engine.self() ? 1 : 0);
    writer.WriteBulk("reachable");
    writer.WriteInteger(reachable(member) ? 1 : 0);
    // A learner hears the values chosen since it was added; the keys
    // written before are not copied to it (docs/STATUS.md).
    writer.WriteBulk("caught_up");
    writer.WriteInteger(voter && settled ? 1 : 0);
    writer.WriteBulk("epoch");
    writer.WriteInteger(static_cast<int64_t>(membership.epoch));
  });
}

}  // namespace

void CmdMembers(CommandContext& c) {
  if (c.args.size() == 1) return ListMembers(c);
  const std::string& sub = c.args[1];
  if (c.args.size() == 2 && base::EqualsIgnoreCase(sub, "help")) {
    static constexpr std::string_view kLines[] = {
        "MEMBERS [<subcommand> <host:port> [LEARNER]]. With no subcommand: every member of the",
        "    configuration (id, address, role, self, reachable, caught_up, epoch).",
        "ADD <host:port> [LEARNER]",
        "    The member joins the configuration, as a voter unless LEARNER.",
        "REMOVE <host:port>",
        "    A voter or a learner leaves (send it to another member than the one leaving).",
        "PROMOTE <host:port>",
        "    A learner becomes a voter.",
        "DEMOTE <host:port>",
        "    A voter becomes a learner.",
        "HELP",
        "    Print this help.",
    };
    return WriteHelpLines(c.client, kLines);
  }
  std::optional<Kind> kind;
  if (base::EqualsIgnoreCase(sub, "add")) kind = Kind::kAddVoter;
  if (base::EqualsIgnoreCase(sub, "remove")) kind = Kind::kRemove;
  if (base::EqualsIgnoreCase(sub, "promote")) kind = Kind::kPromote;
  if (base::EqualsIgnoreCase(sub, "demote")) kind = Kind::kDemote;
  if (!kind) return c.engine.ReplyError(c.client, errors::UnknownSubcommand(sub, "MEMBERS"));
  const bool learner_option = c.args.size() == 4 && kind == Kind::kAddVoter &&
                              base::EqualsIgnoreCase(c.args[3], "learner");
  if (c.args.size() != 3 && !learner_option) return c.engine.ReplyError(c.client, errors::kSyntax);
  if (learner_option) kind = Kind::kAddLearner;
  const Config& config = c.engine.config();
  const std::string& address = c.args[2];
  const std::optional<cluster::MemberId> member = MemberAt(config, address);
  if (!member) {
    return c.engine.ReplyError(
        c.client, "ERR " + address + " is not in this member's cluster list (" +
                      ListText(config) +
                      "): a member with a new address cannot join yet (docs/SPEC.md, \"Membership\")");
  }
  if (*kind == Kind::kRemove && *member == c.engine.self()) {
    return c.engine.ReplyError(c.client, "ERR " + address +
                                             " is this member: send MEMBERS REMOVE to another member");
  }
  cluster::MembershipRequest request;
  request.kind = *kind;
  request.member = *member;
  std::string what = "MEMBERS " + base::ToUpper(sub) + " " + address;
  c.engine.SubmitMembershipChange(c.client, request, std::move(what), c.now);
}

}  // namespace lockerd::server
