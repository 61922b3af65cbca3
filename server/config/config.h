// lockerd's settings: defaults, a Redis-style config file (`name value`
// lines, the first argument) and `--name value` flags that override it. Every
// setting is validated once, at startup, with one clear message per bad
// value. CONFIG GET reads them back by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/broken.h"
#include "cluster/limits.h"
#include "protocol/limits.h"
#include "server/security/acl.h"
#include "server/config/limits.h"
#include "base/log.h"

namespace lockerd::server {

struct OutputBufferLimit {
  size_t hard_bytes = kOutputHardBytesDefault;
  size_t soft_bytes = kOutputSoftBytesDefault;
  int64_t soft_seconds = kOutputSoftSecondsDefault;
};

// tls-auth-clients: whether a client on tls-port must present a certificate.
enum class TlsAuthClients { kNo, kOptional, kYes };

struct Config {
  std::vector<std::string> bind = {"127.0.0.1"};
  int port = 6379;  // 0: no plain port (TLS only).
  // TLS (tls.h): a second port for TLS clients, 0 for none; this member's
  // certificate and key; the CA that client and peer certificates must
  // chain to; and whether peer links use TLS (then `cluster` lists the
  // members' TLS ports).
  int tls_port = 0;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_cert_file;
  std::string tls_ca_cert_dir;
  TlsAuthClients tls_auth_clients = TlsAuthClients::kYes;
  bool tls_cluster = false;
  int tls_protocol_min = 0x0303;  // TLS 1.2 (OpenSSL's TLS1_2_VERSION).
  int tls_protocol_max = 0x0304;  // TLS 1.3.
  size_t maxclients = kMaxClientsDefault;
  int64_t idle_timeout_seconds = kIdleTimeoutSecondsDefault;  // `timeout`; 0: never.
  std::string requirepass;
  // ACL users from `user <name> [rules...]` lines and --user flags, each
  // with its rules applied (see acl.h); `default` among them redefines
  // the default user.
  std::vector<AclUser> users;
  bool protected_mode = true;
  // appendonly yes: every change to a promise, an accepted state or the
  // token counter is logged to dir/lockerd.aof and synced before anything
  // that depends on it leaves the member (server/append_log.h).
  bool appendonly = false;
  // Redis's names: the log is compacted (rewritten as one record of the
  // whole state) once it is at least `min` bytes and has grown by
  // `percentage` % since the last compaction; 0 turns compaction off.
  size_t aof_rewrite_min_bytes = 64u << 20;
  int aof_rewrite_percentage = 100;
  int64_t max_lease_ms = cluster::kMaxLeaseMsDefault;
  double lease_drift = cluster::kDriftDefault;
  int64_t round_timeout_ms = cluster::kRoundTimeoutMsDefault;
  std::string dir = ".";
  LogLevel loglevel = LogLevel::kNotice;
  protocol::ParserLimits parser_limits;
  OutputBufferLimit output_limit;
  size_t maxwaiters_per_key = kWaitersPerKeyDefault;
  size_t max_key_bytes = kKeyBytesDefault;
  size_t maxkeys = kMaxKeysDefault;
  int64_t script_time_limit_ms = kScriptTimeLimitMsDefault;
  size_t script_memory_limit = kScriptMemoryLimitDefault;
  size_t script_cache_max = kScriptCacheMaxDefault;
  size_t script_max_bytes = kScriptBytesMaxDefault;
  size_t script_max_keys = kScriptKeysMaxDefault;
  // The voting members ("host:port" each), this member's own address in that
  // list, and the secret peers prove themselves with. Empty: run alone.
  std::vector<std::string> cluster;
  std::string advertise;
  std::string cluster_secret;
  size_t self_index = 0;  // Derived: where `advertise` is in `cluster`.
  // The member list differs from the one `dir` remembers on purpose (every
  // member was stopped first): start as after a crash (server/data_dir.h).
  bool cluster_list_changed = false;
  // What a member that starts with an empty dir may assume (etcd's
  // --initial-cluster-state): "" (neither), "new" or "existing"
  // (cluster::NodeOptions::first_configuration).
  std::string initial_cluster_state;
  // Not a setting: no file line or flag sets it, and CONFIG GET does not
  // show it. Rules of the cluster protocol broken on purpose (see
  // cluster/broken.h), set only by the fault suite's test-only binary
  // through RunLockerd (run.h), so that its checker can prove it notices;
  // they go to the node's options (cluster::NodeOptions::broken).
  cluster::BrokenRules broken_rules;
  std::string config_file;  // Empty when none was given.
  // The commands `user` rules name, while the config is read (LoadConfig).
  const AclCatalog* acl_catalog = nullptr;
};

struct ConfigLoad {
  std::optional<Config> config;      // Set when every value was valid.
  std::vector<std::string> errors;   // One line each.
  bool help = false;                 // --help: print HelpText() and exit.
  bool version = false;              // --version.
};

// argv[1] may be a config file path; then `--name value...` flags.
// `catalog` names the commands `user` rules may refer to; it outlives the
// config (the command table's, CommandAclCatalog()).
ConfigLoad LoadConfig(int argc, const char* const* argv, const AclCatalog& catalog);
std::string HelpText();

// (name, value) for every setting whose name matches `pattern` (a glob), in
// the form CONFIG GET replies with.
std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern);


// Splits "host:port" (or "[v6]:port"); false if it is not that.
bool SplitHostPort(std::string_view address, std::string* host, int* port);

// "1mb", "512kb", "1k", "100" -> bytes, as Redis reads memory sizes.
std::optional<uint64_t> ParseMemory(std::string_view text);

}  // namespace lockerd::server
