#include "server/commands/info.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <string_view>

#include "base/ascii.h"
#include "server/engine/engine.h"
#include "server/config/version.h"

namespace lockerd::server {
namespace {

class InfoText {
 public:
  void Section(std::string_view name) {
    if (!text_.empty()) text_ += "\r\n";
    text_ += "# ";
    text_ += name;
    text_ += "\r\n";
  }
  template <typename T>
  void Field(std::string_view name, const T& value) {
    text_ += name;
    text_ += ':';
    if constexpr (std::is_convertible_v<T, std::string_view>) {
      text_ += std::string_view(value);
    } else {
      text_ += std::to_string(value);
    }
    text_ += "\r\n";
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string MemberState(const cluster::Node& node, cluster::Time now) {
  if (node.Quarantined(now)) return node.recovering() && now.mono_ms >= node.quarantine_until_ms()
                                        ? "syncing"
                                        : "quarantine";
  return "ok";
}

void ServerSection(const Engine& engine, cluster::Time now, InfoText& info) {
  const ProcessInfo& process = engine.process();
  const int64_t uptime_s = (now.mono_ms - process.started_mono_ms) / 1000;
  info.Section("Server");
  info.Field("redis_version", kRedisCompatVersion);
  info.Field("lockerd_version", kLockerdVersion);
  info.Field("redis_mode", "standalone");
  info.Field("os", process.os);
  info.Field("arch_bits", static_cast<int>(sizeof(void*) * 8));
  info.Field("multiplexing_api", "libuv");
  info.Field("process_id", process.pid);
  info.Field("run_id", process.run_id);
  info.Field("tcp_port", process.tcp_port);
  info.Field("server_time_usec", now.wall_ms * 1000);
  info.Field("uptime_in_seconds", uptime_s);
  info.Field("uptime_in_days", uptime_s / 86400);
  info.Field("executable", process.executable);
  info.Field("config_file", process.config_file);
}

void ClientsSection(const Engine& engine, InfoText& info) {
  info.Section("Clients");
  info.Field("connected_clients", engine.clients().size());
  info.Field("blocked_clients", engine.blocked_clients());
  info.Field("waiting_clients", engine.waiters().size());
  info.Field("maxclients", engine.config().maxclients);
}

void PersistenceSection(const Engine& engine, InfoText& info) {
  info.Section("Persistence");
  info.Field("loading", 0);
  info.Field("leases_loaded_at_start", engine.process().leases_loaded);
  info.Field("unclean_previous_stop", engine.process().unclean_start ? 1 : 0);
  // Redis's names where they apply (aof_last_write_status is err while the
  // log cannot be written: writes answer -MISCONF), then lockerd's.
  const ProcessInfo::AppendOnly& aof = engine.process().append_only;
  info.Field("aof_enabled", aof.enabled ? 1 : 0);
  info.Field("aof_rewrite_in_progress", aof.rewrite_in_progress ? 1 : 0);
  info.Field("aof_last_bgrewrite_status", aof.last_rewrite_failed ? "err" : "ok");
  info.Field("aof_rewrites_consecutive_failures", aof.rewrites_consecutive_failures);
  info.Field("aof_last_write_status", aof.write_error.empty() ? "ok" : "err");
  if (!aof.enabled) return;
  if (!aof.write_error.empty()) info.Field("aof_last_write_error", aof.write_error);
  info.Field("aof_write_failures", aof.write_failures);
  info.Field("aof_current_size", aof.size_bytes);
  info.Field("aof_rewrites", aof.rewrites);
  info.Field("aof_last_rewrite_time_us", aof.last_rewrite_us);
  info.Field("aof_last_rewrite_snapshot_us", aof.last_rewrite_snapshot_us);
  info.Field("aof_last_rewrite_longest_part_us", aof.last_rewrite_longest_part_us);
  info.Field("aof_last_rewrite_finish_us", aof.last_rewrite_finish_us);
  info.Field("aof_last_rewrite_unixtime", aof.last_rewrite_wall_ms / 1000);
  info.Field("aof_syncs", aof.syncs);
  info.Field("aof_last_sync_us", aof.last_sync_us);
  info.Field("aof_longest_sync_us", aof.longest_sync_us);
  info.Field("aof_last_sync_unixtime_ms", aof.last_sync_wall_ms);
  info.Field("aof_loaded_at_start", aof.loaded_from_log ? 1 : 0);
}

void StatsSection(const Engine& engine, InfoText& info) {
  const EngineStats& stats = engine.stats();
  const cluster::LeaseTable& table = engine.node().table();
  info.Section("Stats");
  info.Field("total_connections_received", stats.connections_received);
  info.Field("total_commands_processed", stats.commands_processed);
  info.Field("rejected_connections", stats.connections_rejected);
  info.Field("total_error_replies", stats.error_replies);
  info.Field("acl_access_denied_auth", stats.acl_denied_auth);
  info.Field("acl_access_denied_cmd", stats.acl_denied_cmd);
  info.Field("acl_access_denied_key", stats.acl_denied_key);
  info.Field("protocol_errors", stats.protocol_errors);
  info.Field("tls_handshake_failures", stats.tls_handshake_failures);
  info.Field("client_output_limit_disconnections", stats.output_limit_disconnects);
  info.Field("client_idle_timeout_disconnections", stats.idle_timeout_disconnects);
  info.Field("locks_granted", stats.locks_granted);
  info.Field("locks_denied", stats.locks_denied);
  info.Field("lock_releases", stats.releases);
  info.Field("lock_extends", stats.extends);
  info.Field("waits_started", stats.waits_started);
  info.Field("waits_woken", stats.waits_woken);
  info.Field("waits_timed_out", stats.waits_timed_out);
  info.Field("expired_leases", table.expired_count());
  info.Field("noquorum_replies", stats.noquorum_replies);
  info.Field("loop_longest_stall_us", stats.loop_longest_stall_us);
  info.Field("loop_stalls_over_10ms", stats.loop_stalls_over_10ms);
}

// Redis's field names where Redis has them (clients read
// number_of_cached_scripts), then the script runs and their transactions.
void ScriptsSection(const Engine& engine, InfoText& info) {
  const script::LuaEngine& lua = engine.lua();
  const cluster::TxnStats& txn = engine.node().txn_coordinator().stats();
  info.Section("Scripts");
  info.Field("used_memory_lua", lua.memory_used());
  info.Field("number_of_cached_scripts", lua.cached());
  info.Field("script_runs", lua.stats().runs);
  info.Field("script_errors", lua.stats().errors);
  info.Field("scripts_stopped_at_limits", lua.stats().killed);
  info.Field("scripts_evicted", lua.stats().evicted);
  info.Field("txn_started", txn.started);
  info.Field("txn_retried", txn.retried);
  info.Field("txn_committed", txn.committed);
  info.Field("txn_read_only", txn.read_only);
  info.Field("txn_keys_written_back", txn.written_back);
  info.Field("txn_torn", txn.torn);
  info.Field("txn_carried_on", txn.carried_on);
  info.Field("txn_rerun_unchanged", txn.rerun_unchanged);
  info.Field("txn_rollbacks", txn.rollbacks);
  info.Field("txn_peeks", txn.peeks);
  info.Field("txn_peek_answers", txn.peek_answers);
  info.Field("txn_timed_out", txn.timed_out);
}

void ReplicationSection(InfoText& info) {
  info.Section("Replication");
  info.Field("role", "master");
  info.Field("connected_slaves", 0);
}

void LeasesSection(const Engine& engine, cluster::Time now, InfoText& info) {
  const cluster::Node& node = engine.node();
  info.Section("Leases");
  info.Field("leases_held", node.table().held_count());
  info.Field("registers", node.table().registers_count());
  info.Field("waiters", engine.waiters().size());
  info.Field("last_token", node.acceptor().token_counter());
  info.Field("max_lease_ms", engine.config().max_lease_ms);
  info.Field("writes_in_flight", node.coordinator().rounds_in_flight());
  info.Field("member_state", MemberState(node, now));
  info.Field("quarantine_remaining_ms",
             std::max<int64_t>(0, node.quarantine_until_ms() - now.mono_ms));
}

void ClusterSection(const Engine& engine, cluster::Time now, InfoText& info) {
  const cluster::Node& node = engine.node();
  const size_t members = engine.members_count();
  info.Section("Cluster");
  // Redis Cluster's flag: 0, since lockerd does not speak the cluster
  // protocol; clients that see 1 switch to cluster mode and fail.
  info.Field("cluster_enabled", 0);
  const cluster::Membership& configuration = node.membership();
  // The addresses in the cluster list; the configuration says which of
  // them vote now (MEMBERS changes it).
  info.Field("cluster_members", members);
  info.Field("cluster_quorum", configuration.majority());
  info.Field("cluster_epoch", configuration.epoch);
  info.Field("cluster_voters", configuration.voter_count());
  info.Field("cluster_learners", static_cast<size_t>(std::popcount(configuration.learners)));
  info.Field("cluster_self", engine.self());
  info.Field("cluster_advertise", engine.config().advertise);
  info.Field("member_state", MemberState(node, now));
  info.Field("quarantine_remaining_ms",
             std::max<int64_t>(0, node.quarantine_until_ms() - now.mono_ms));
  // Recovery without stable storage (cluster/recovery_sync.h).
  info.Field("recovering", node.recovering() ? 1 : 0);
  info.Field("recovery_answers", node.recovery().answered_count());
  info.Field("recovery_peers_recovering", node.recovery().recovering_count());
  info.Field("recovery_fallbacks", node.recovery_fallbacks());
  // First starts with an empty dir that found the cluster's history (a
  // lost disk), or could not tell (too few members answered).
  info.Field("first_start_found_history", node.first_starts_with_history());
  info.Field("first_start_undecided", node.first_starts_undecided());
  // Commits not applied because they were older than the age limit, or of
  // unknown age (cluster/message_clocks.h).
  info.Field("stale_commits_refused", node.stale_commits());
  size_t reachable = 1;  // This member.
  if (engine.process().peer_status) {
    for (const PeerStatus& peer : engine.process().peer_status()) {
      reachable += peer.reachable;
      char rtt[32];
      std::snprintf(rtt, sizeof rtt, "%.1f", peer.rtt_ms);
      info.Field("member" + std::to_string(peer.member),
                 "address=" + peer.address + ",reachable=" + (peer.reachable ? "1" : "0") +
                     ",rtt_ms=" + rtt + ",sent=" + std::to_string(peer.messages_sent) +
                     ",dropped=" + std::to_string(peer.messages_dropped) +
                     ",connects=" + std::to_string(peer.connects));
    }
  }
  info.Field("cluster_reachable_members", reachable);
  info.Field("writes_in_flight", node.coordinator().rounds_in_flight());
  const LatencyStats& latency = engine.write_latency();
  info.Field("quorum_writes", latency.count());
  info.Field("quorum_latency_avg_us", static_cast<uint64_t>(latency.mean_us()));
  info.Field("quorum_latency_p99_us", latency.p99_us());
  info.Field("rounds_retried", node.coordinator().stats().rounds_retried);
  info.Field("rounds_timed_out", node.coordinator().stats().rounds_timed_out);
  info.Field("rounds_gave_up", node.coordinator().stats().rounds_gave_up);
  info.Field("writes_queued_behind_key", node.coordinator().stats().writes_queued);
  info.Field("lock_peeks", node.coordinator().stats().peeks);
  info.Field("lock_peek_refusals", node.coordinator().stats().peek_refusals);
  info.Field("queued_locks_refused", node.coordinator().stats().queued_locks_refused);
  info.Field("releases_carried_on", node.coordinator().stats().releases_carried_on);
  info.Field("fast_writes", node.coordinator().stats().fast_rounds);
  info.Field("fast_writes_refused", node.coordinator().stats().fast_rounds_refused);
  info.Field("peer_messages_in", engine.stats().peer_messages_in);
  info.Field("peer_messages_malformed", engine.stats().peer_messages_malformed);
  info.Field("peer_handshakes_refused", engine.stats().peer_handshakes_refused);
}

void KeyspaceSection(const Engine& engine, InfoText& info) {
  info.Section("Keyspace");
  const size_t held = engine.node().table().held_count();
  if (held > 0) {
    info.Field("db0", "keys=" + std::to_string(held) + ",expires=" + std::to_string(held) +
                          ",avg_ttl=0");
  }
}

}  // namespace

std::string BuildInfo(const Engine& engine, std::span<const std::string> sections,
                      cluster::Time now) {
  static constexpr std::string_view kAll[] = {"server",      "clients", "persistence", "stats",
                                              "replication", "leases",  "cluster",     "keyspace"};
  std::vector<std::string> wanted;
  for (const std::string& section : sections) {
    const std::string name = base::ToLower(section);
    if (name == "all" || name == "everything" || name == "default") {
      wanted.assign(std::begin(kAll), std::end(kAll));
      break;
    }
    wanted.push_back(name);
  }
  if (wanted.empty()) wanted.assign(std::begin(kAll), std::end(kAll));
  const auto want = [&](std::string_view name) {
    return std::find(wanted.begin(), wanted.end(), name) != wanted.end();
  };
  InfoText info;
  if (want("server")) ServerSection(engine, now, info);
  if (want("clients")) ClientsSection(engine, info);
  if (want("persistence")) PersistenceSection(engine, info);
  if (want("stats")) StatsSection(engine, info);
  if (want("scripts")) ScriptsSection(engine, info);
  if (want("replication")) ReplicationSection(info);
  if (want("leases")) LeasesSection(engine, now, info);
  if (want("cluster")) ClusterSection(engine, now, info);
  if (want("keyspace")) KeyspaceSection(engine, info);
  return info.Take();
}

}  // namespace lockerd::server
