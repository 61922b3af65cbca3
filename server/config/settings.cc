// The settings table (settings.h), the setters its entries share and those
// of the settings with a form of their own (client-output-buffer-limit,
// user, tls-auth-clients, tls-protocols); HelpText and ConfigGet, which
// read the table back.
#include "server/config/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>
#include <sstream>

#include "base/ascii.h"
#include "base/glob.h"
#include "cluster/txn.h"
#include "protocol/numbers.h"

namespace lockerd::server {
namespace settings {
namespace {

template <typename T>
Setter IntSetting(T Config::*field, int64_t min, int64_t max) {
  return [=](Config& config, const Values& values) {
    int64_t value = 0;
    std::string error = ParseIntValue(values, min, max, &value);
    if (error.empty()) config.*field = static_cast<T>(value);
    return error;
  };
}

Setter SizeSetting(size_t Config::*field, uint64_t min, uint64_t max, bool memory) {
  return [=](Config& config, const Values& values) {
    return ParseSizeValue(values, min, max, memory, &(config.*field));
  };
}

Setter ParserSetting(size_t protocol::ParserLimits::*field, uint64_t min, uint64_t max,
                     bool memory) {
  return [=](Config& config, const Values& values) {
    return ParseSizeValue(values, min, max, memory, &(config.parser_limits.*field));
  };
}

std::string SetOutputLimit(Config& config, const Values& values) {
  // Redis's form: <class> <hard> <soft> <soft-seconds>; only "normal" here.
  if (values.size() != 4 || base::ToLower(values[0]) != "normal") {
    return "expects: normal <hard> <soft> <soft-seconds>";
  }
  const auto hard = ParseMemory(values[1]);
  const auto soft = ParseMemory(values[2]);
  const auto seconds = protocol::ParseInt64(values[3]);
  if (!hard || !soft || !seconds || *seconds < 0) {
    return "expects sizes (e.g. 64mb) and a number of seconds";
  }
  if (*hard == 0 || *soft == 0) {
    return "limits must be above 0: an unbounded output buffer lets one client exhaust memory";
  }
  if (*hard > kOutputBytesLimitMax) return "hard limit must be at most 1gb";
  config.output_limit = {static_cast<size_t>(*hard), static_cast<size_t>(*soft), *seconds};
  return {};
}

// user <name> [rules...]: a user per line; rules apply left to right.
std::string SetUser(Config& config, const Values& values) {
  if (values.empty()) return "expects a user name and its rules";
  const std::string& name = values[0];
  const auto unprintable = [](char ch) { return ch <= ' ' || ch > '~'; };
  if (name.empty() || std::any_of(name.begin(), name.end(), unprintable)) {
    return "name must be printable, without spaces";
  }
  for (const AclUser& user : config.users) {
    if (user.name() == name) return "'" + name + "' is defined twice";
  }
  // Redis starts a configured default user from reset too.
  AclUser user(name, *config.acl_catalog);
  const std::string error = user.ApplyRules(std::span(values).subspan(1));
  if (!error.empty()) return name + ": " + error;
  config.users.push_back(std::move(user));
  return {};
}

Setter StringSetting(std::string Config::*field) {
  return [=](Config& config, const Values& values) {
    std::string error;
    config.*field = OneValue(values, &error);
    return error;
  };
}

std::string SetTlsAuthClients(Config& config, const Values& values) {
  std::string error;
  const std::string value = base::ToLower(OneValue(values, &error));
  if (!error.empty()) return error;
  if (value == "yes") {
    config.tls_auth_clients = TlsAuthClients::kYes;
  } else if (value == "no") {
    config.tls_auth_clients = TlsAuthClients::kNo;
  } else if (value == "optional") {
    config.tls_auth_clients = TlsAuthClients::kOptional;
  } else {
    return "must be yes, no or optional";
  }
  return {};
}

// Redis's form: "TLSv1.2 TLSv1.3", in one value or several. The allowed
// versions must be a range, which two versions always are.
std::string SetTlsProtocols(Config& config, const Values& values) {
  bool v12 = false;
  bool v13 = false;
  for (const std::string& value : values) {
    std::istringstream words(value);
    std::string word;
    while (words >> word) {
      word = base::ToLower(word);
      if (word == "tlsv1.2") {
        v12 = true;
      } else if (word == "tlsv1.3") {
        v13 = true;
      } else {
        return "must list TLSv1.2 and/or TLSv1.3, not '" + word + "'";
      }
    }
  }
  if (!v12 && !v13) return "expects TLSv1.2 and/or TLSv1.3";
  config.tls_protocol_min = v12 ? 0x0303 : 0x0304;
  config.tls_protocol_max = v13 ? 0x0304 : 0x0303;
  return {};
}

}  // namespace

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {"bind", "<addr> [<addr> ...]", "IPv4/IPv6 addresses to listen on (default 127.0.0.1)",
       [](Config& c, const Values& v) -> std::string {
         if (v.empty()) return "expects at least one address";
         c.bind = v;
         return {};
       },
       [](const Config& c) {
         std::string out;
         for (const auto& a : c.bind) out += (out.empty() ? "" : " ") + a;
         return out;
       }},
      {"port", "<port>", "TCP port for clients (default 6379; 0: none, TLS only)",
       IntSetting(&Config::port, 0, 65535),
       [](const Config& c) { return std::to_string(c.port); }},
      {"tls-port", "<port>", "TCP port for TLS clients (default 0: no TLS)",
       IntSetting(&Config::tls_port, 0, 65535),
       [](const Config& c) { return std::to_string(c.tls_port); }},
      {"tls-cert-file", "<path>", "this member's certificate (PEM; chain allowed) for TLS",
       StringSetting(&Config::tls_cert_file), [](const Config& c) { return c.tls_cert_file; }},
      {"tls-key-file", "<path>", "the private key of tls-cert-file (PEM)",
       StringSetting(&Config::tls_key_file), [](const Config& c) { return c.tls_key_file; }},
      {"tls-ca-cert-file", "<path>", "CA certificates that client and peer certificates must chain to",
       StringSetting(&Config::tls_ca_cert_file), [](const Config& c) { return c.tls_ca_cert_file; }},
      {"tls-ca-cert-dir", "<path>", "a directory of CA certificates (c_rehash form), with or instead of the file",
       StringSetting(&Config::tls_ca_cert_dir), [](const Config& c) { return c.tls_ca_cert_dir; }},
      {"tls-auth-clients", "yes|no|optional",
       "TLS clients must present a certificate from the CA (yes), may (optional), or are not asked (no) (default yes)",
       SetTlsAuthClients,
       [](const Config& c) {
         return std::string(c.tls_auth_clients == TlsAuthClients::kYes        ? "yes"
                            : c.tls_auth_clients == TlsAuthClients::kOptional ? "optional"
                                                                                : "no");
       }},
      {"tls-cluster", "yes|no",
       "peer links use TLS; cluster then lists the members' tls-ports (default no)",
       [](Config& c, const Values& v) { return SetYesNo(&c.tls_cluster, v); },
       [](const Config& c) { return std::string(c.tls_cluster ? "yes" : "no"); }},
      {"tls-protocols", "<versions>", "TLS versions allowed: TLSv1.2 and/or TLSv1.3 (default both)",
       SetTlsProtocols,
       [](const Config& c) {
         std::string out;
         if (c.tls_protocol_min <= 0x0303) out = "TLSv1.2";
         if (c.tls_protocol_max >= 0x0304) out += out.empty() ? "TLSv1.3" : " TLSv1.3";
         return out;
       }},
      {"maxclients", "<n>", "most client connections at once (default 10000)",
       SizeSetting(&Config::maxclients, 1, 1'000'000, false),
       [](const Config& c) { return std::to_string(c.maxclients); }},
      {"timeout", "<seconds>",
       "close a client idle (nothing read or written) this long; 0 never (default 0)",
       IntSetting(&Config::idle_timeout_seconds, 0, kIdleTimeoutSecondsMax),
       [](const Config& c) { return std::to_string(c.idle_timeout_seconds); }},
      {"requirepass", "<password>", "password clients must send with AUTH (default none)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         c.requirepass = OneValue(v, &error);
         return error;
       },
       [](const Config& c) { return c.requirepass; }},
      {"user", "<name> [<rule> ...]",
       "an ACL user with Redis's rules, e.g. user alice on >pw ~locks:* -@all +@lock (repeatable)",
       SetUser,
       [](const Config& c) {
         std::string out;
         for (const AclUser& user : c.users) out += (out.empty() ? "" : " ") + user.name();
         return out;
       }},
      {"protected-mode", "yes|no",
       "without requirepass, refuse clients not on loopback (default yes)",
       [](Config& c, const Values& v) { return SetYesNo(&c.protected_mode, v); },
       [](const Config& c) { return std::string(c.protected_mode ? "yes" : "no"); }},
      {"max-lease-ms", "<ms>", "longest ttl a lease may have; also the restart quarantine (default 60000)",
       IntSetting(&Config::max_lease_ms, 1, cluster::kMaxLeaseMsLimit),
       [](const Config& c) { return std::to_string(c.max_lease_ms); }},
      {"lease-drift", "<fraction>",
       "clock drift allowance rho: holders count on ttl*(1-rho) (default 0.01)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         const std::string value = OneValue(v, &error);
         if (!error.empty()) return error;
         double drift = 0;
         const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), drift);
         if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(drift) ||
             drift < 0 || drift > 0.5) {
           return "must be a number between 0 and 0.5";
         }
         c.lease_drift = drift;
         return {};
       },
       [](const Config& c) { return FormatDouble(c.lease_drift); }},
      {"round-timeout-ms", "<ms>", "how long a write waits for a majority (default 500)",
       IntSetting(&Config::round_timeout_ms, 1, 60'000),
       [](const Config& c) { return std::to_string(c.round_timeout_ms); }},
      {"cluster-list-changed", "yes|no",
       "the member list differs from the one dir remembers, on purpose: every member was stopped "
       "first; start as after a crash (default no)",
       [](Config& c, const Values& v) { return SetYesNo(&c.cluster_list_changed, v); },
       [](const Config& c) { return std::string(c.cluster_list_changed ? "yes" : "no"); }},
      {"initial-cluster-state", "new|existing",
       "with an empty dir: new lets a new cluster start with a listed member missing (after a "
       "restart quarantine); existing never takes the member list's configuration, only one a "
       "member tells (default: take it once every listed member says it knows none)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         const std::string value = base::ToLower(OneValue(v, &error));
         if (!error.empty()) return error;
         if (value != "new" && value != "existing") return "must be new or existing";
         c.initial_cluster_state = value;
         return {};
       },
       [](const Config& c) { return c.initial_cluster_state; }},
      {"appendonly", "yes|no",
       "log every promise and grant to dir/lockerd.aof, synced before it is answered, so that a "
       "crash costs no quarantine (default no)",
       [](Config& c, const Values& v) { return SetYesNo(&c.appendonly, v); },
       [](const Config& c) { return std::string(c.appendonly ? "yes" : "no"); }},
      {"auto-aof-rewrite-min-size", "<size>",
       "appendonly yes: compact the log no sooner than at this size (default 64mb)",
       SizeSetting(&Config::aof_rewrite_min_bytes, 64 * 1024, 1ull << 40, true),
       [](const Config& c) { return std::to_string(c.aof_rewrite_min_bytes); }},
      {"auto-aof-rewrite-percentage", "<percent>",
       "appendonly yes: compact the log when it has grown this much since the last compaction; "
       "0 never (default 100)",
       IntSetting(&Config::aof_rewrite_percentage, 0, 1'000'000),
       [](const Config& c) { return std::to_string(c.aof_rewrite_percentage); }},
      {"dir", "<path>", "where leases are saved on shutdown, created if missing (default .)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         c.dir = OneValue(v, &error);
         if (error.empty() && c.dir.empty()) error = "must not be empty";
         return error;
       },
       [](const Config& c) { return c.dir; }},
      {"loglevel", "debug|verbose|notice|warning", "least important log lines shown (default notice)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         const auto level = ParseLogLevel(base::ToLower(OneValue(v, &error)));
         if (!error.empty()) return error;
         if (!level) return "must be debug, verbose, notice or warning";
         c.loglevel = *level;
         return {};
       },
       [](const Config& c) { return std::string(LogLevelName(c.loglevel)); }},
      {"proto-max-bulk-len", "<size>", "largest bulk string a client may send (default 1mb)",
       ParserSetting(&protocol::ParserLimits::bulk_bytes_max, 1024, 512ull << 20, true),
       [](const Config& c) { return std::to_string(c.parser_limits.bulk_bytes_max); }},
      {"proto-max-multibulk-len", "<n>", "most arguments in one command (default 65536)",
       ParserSetting(&protocol::ParserLimits::args_count_max, 1, 1 << 24, false),
       [](const Config& c) { return std::to_string(c.parser_limits.args_count_max); }},
      {"client-query-buffer-limit", "<size>", "most bytes one command may hold (default 16mb)",
       ParserSetting(&protocol::ParserLimits::command_bytes_max, 1024, 1ull << 30, true),
       [](const Config& c) { return std::to_string(c.parser_limits.command_bytes_max); }},
      {"client-output-buffer-limit", "normal <hard> <soft> <soft-seconds>",
       "reply bytes a client may leave unread (default normal 256mb 8mb 60)", SetOutputLimit,
       [](const Config& c) {
         return "normal " + std::to_string(c.output_limit.hard_bytes) + " " +
                std::to_string(c.output_limit.soft_bytes) + " " +
                std::to_string(c.output_limit.soft_seconds);
       }},
      {"maxwaiters-per-key", "<n>", "most clients blocked on one key (default 10000)",
       SizeSetting(&Config::maxwaiters_per_key, 1, 10'000'000, false),
       [](const Config& c) { return std::to_string(c.maxwaiters_per_key); }},
      {"max-key-bytes", "<n>", "longest key or owner (default 4096)",
       SizeSetting(&Config::max_key_bytes, 1, 1 << 20, false),
       [](const Config& c) { return std::to_string(c.max_key_bytes); }},
      {"script-time-limit", "<ms>", "longest run of one script before it is stopped (default 100)",
       [](Config& c, const Values& v) -> std::string {
         size_t value = 0;
         std::string error = ParseSizeValue(v, 1, 60'000, false, &value);
         if (error.empty()) c.script_time_limit_ms = static_cast<int64_t>(value);
         return error;
       },
       [](const Config& c) { return std::to_string(c.script_time_limit_ms); }},
      {"script-memory-limit", "<size>", "memory one script run may allocate (default 64mb)",
       SizeSetting(&Config::script_memory_limit, 64 * 1024, 1ull << 32, true),
       [](const Config& c) { return std::to_string(c.script_memory_limit); }},
      {"script-cache-max", "<n>", "compiled scripts kept, least recently used out first (default 1000)",
       SizeSetting(&Config::script_cache_max, 1, 1'000'000, false),
       [](const Config& c) { return std::to_string(c.script_cache_max); }},
      {"script-max-bytes", "<size>", "longest script body (default 1mb)",
       SizeSetting(&Config::script_max_bytes, 16, 64ull << 20, true),
       [](const Config& c) { return std::to_string(c.script_max_bytes); }},
      {"script-max-keys", "<n>", "most keys one script may declare (default 128)",
       SizeSetting(&Config::script_max_keys, 1, cluster::kTxnKeysMax, false),
       [](const Config& c) { return std::to_string(c.script_max_keys); }},
      {"cluster", "<host:port>,<host:port>,...",
       "every voting member, this one included (default: run alone)",
       [](Config& c, const Values& v) -> std::string {
         c.cluster.clear();
         for (const std::string& value : v) {
           size_t start = 0;
           while (start <= value.size()) {
             const size_t comma = value.find(',', start);
             const std::string item =
                 value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
             if (!item.empty()) c.cluster.push_back(item);
             if (comma == std::string::npos) break;
             start = comma + 1;
           }
         }
         if (c.cluster.empty()) return "expects host:port,host:port,...";
         return {};
       },
       [](const Config& c) {
         std::string out;
         for (const auto& member : c.cluster) out += (out.empty() ? "" : ",") + member;
         return out;
       }},
      {"advertise", "<host:port>", "this member's address in the cluster list (default bind:port, bind:tls-port with tls-cluster)",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         c.advertise = OneValue(v, &error);
         return error;
       },
       [](const Config& c) { return c.advertise; }},
      {"cluster-secret", "<secret>", "the secret every member shares; peers must present it",
       [](Config& c, const Values& v) -> std::string {
         std::string error;
         c.cluster_secret = OneValue(v, &error);
         return error;
       },
       [](const Config&) { return std::string("(hidden)"); }},
      {"maxkeys", "<n>", "most leases held at once; beyond, LOCK answers -OOM (default 10000000)",
       SizeSetting(&Config::maxkeys, 1, 1'000'000'000, false),
       [](const Config& c) { return std::to_string(c.maxkeys); }},
  };
  return settings;
}

const Setting* FindSetting(std::string_view name) {
  const std::string lower = base::ToLower(name);
  for (const Setting& setting : Settings()) {
    if (setting.name == lower) return &setting;
  }
  return nullptr;
}

}  // namespace settings

std::string HelpText() {
  std::string text =
      "Usage: lockerd [/path/to/lockerd.conf] [--name value ...]\n"
      "       lockerd --help | --version\n\n"
      "A distributed lock and lease server that speaks the Redis protocol.\n"
      "The config file holds `name value` lines; --name value flags override it.\n\n"
      "Settings:\n";
  for (const settings::Setting& setting : settings::Settings()) {
    std::string left = "  --" + std::string(setting.name) + " " + std::string(setting.args);
    if (left.size() < 46) left.resize(46, ' ');
    text += left + " " + std::string(setting.help) + "\n";
  }
  text +=
      "\nExample: lockerd --port 6379 --requirepass s3cret --dir /var/lib/lockerd\n";
  return text;
}

std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const settings::Setting& setting : settings::Settings()) {
    if (GlobMatch(pattern, setting.name, /*ignore_case=*/true)) {
      out.emplace_back(std::string(setting.name), setting.get(config));
    }
  }
  return out;
}

}  // namespace lockerd::server
