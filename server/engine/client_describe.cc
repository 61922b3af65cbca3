#include "server/engine/client_describe.h"

#include "protocol/numbers.h"
#include "server/security/acl.h"
#include "base/errors.h"
#include "server/engine/request_parse.h"

namespace lockerd::server {

std::string DescribeClient(const Client& client, cluster::Time now) {
  const int64_t age_s = (now.mono_ms - client.created_ms()) / 1000;
  const int64_t idle_s = (now.mono_ms - client.activity.last_interaction_ms) / 1000;
  // Redis's letters: b blocked, x in MULTI, N none of them.
  std::string flags;
  if (client.blocked != BlockKind::kNone) flags += 'b';
  if (client.in_multi()) flags += 'x';
  if (flags.empty()) flags = "N";
  std::string line;
  line.reserve(256);
  line += "id=" + std::to_string(client.id());
  line += " addr=" + client.peer_address();
  line += " laddr=" + client.local_address();
  line += " fd=-1";
  line += " name=" + client.info.name;
  line += " age=" + std::to_string(age_s);
  line += " idle=" + std::to_string(idle_s);
  line += " flags=" + flags;
  // Redis 7.0's fields in its order (client libraries parse them all), then
  // 7.2's lib-name and lib-ver, then tot-cmds. Where a field has no meaning
  // here it is 0 (no pub/sub, no argv kept between commands, one reply
  // buffer whose size is the pending output); multi is the number of
  // queued commands in MULTI, else -1, and multi-mem their bytes.
  const size_t pending = client.pending_bytes();
  const bool multi = client.in_multi();
  line += " db=0 sub=0 psub=0 ssub=0 multi=";
  line += multi ? std::to_string(client.transaction->queued.size()) : "-1";
  line += " qbuf=" + std::to_string(client.query_bytes);
  line += " qbuf-free=0 argv-mem=0 multi-mem=";
  line += std::to_string(multi ? client.transaction->queued_bytes : 0);
  line += " rbs=0 rbp=0";
  line += " obl=0 oll=0 omem=" + std::to_string(pending);
  line += " tot-mem=" + std::to_string(client.query_bytes + pending);
  line += std::string(" events=") + (pending > 0 ? "rw" : "r");
  line += " cmd=" + (client.activity.last_command.empty() ? std::string("NULL") : client.activity.last_command);
  line += " user=" + (client.user != nullptr ? client.user->name() : std::string("default"));
  line += " redir=-1";
  line += " resp=" + std::to_string(static_cast<int>(client.version()));
  line += " lib-name=" + client.info.lib_name;
  line += " lib-ver=" + client.info.lib_version;
  line += " tot-cmds=" + std::to_string(client.activity.commands_count);
  return line;
}

std::string KillFilter::Add(std::string_view name, std::string_view value) {
  if (base::EqualsIgnoreCase(name, "ID")) {
    const auto id = protocol::ParseInt64(value);
    if (!id || *id <= 0) return std::string(errors::kClientIdNotPositive);
    id_ = static_cast<uint64_t>(*id);
  } else if (base::EqualsIgnoreCase(name, "ADDR")) {
    addr_ = std::string(value);
  } else if (base::EqualsIgnoreCase(name, "LADDR")) {
    laddr_ = std::string(value);
  } else if (base::EqualsIgnoreCase(name, "USER")) {
    user_ = std::string(value);
  } else if (base::EqualsIgnoreCase(name, "MAXAGE")) {
    const auto age = protocol::ParseInt64(value);
    if (!age || *age < 0) return std::string(errors::kNotInteger);
    max_age_s_ = *age;
  } else if (base::EqualsIgnoreCase(name, "SKIPME")) {
    if (base::EqualsIgnoreCase(value, "yes")) {
      skip_me_ = true;
    } else if (base::EqualsIgnoreCase(value, "no")) {
      skip_me_ = false;
    } else {
      return std::string(errors::kSyntax);
    }
  } else if (base::EqualsIgnoreCase(name, "TYPE")) {
    if (base::EqualsIgnoreCase(value, "normal")) return {};
    if (base::EqualsIgnoreCase(value, "master") || base::EqualsIgnoreCase(value, "replica") ||
        base::EqualsIgnoreCase(value, "slave") || base::EqualsIgnoreCase(value, "pubsub")) {
      type_none_ = true;
      return {};
    }
    return errors::UnknownClientType(value);
  } else {
    return std::string(errors::kSyntax);
  }
  return {};
}

bool KillFilter::Matches(const Client& client, const Client& caller, cluster::Time now) const {
  if (type_none_) return false;
  if (skip_me_ && &client == &caller) return false;
  if (id_ && client.id() != *id_) return false;
  if (addr_ && client.peer_address() != *addr_) return false;
  if (laddr_ && client.local_address() != *laddr_) return false;
  if (user_ && *user_ != (client.user != nullptr ? client.user->name() : "default")) return false;
  if (max_age_s_ && (now.mono_ms - client.created_ms()) / 1000 < *max_age_s_) return false;
  return true;
}

}  // namespace lockerd::server
