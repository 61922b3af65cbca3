// Loading the settings: the config file and the --name value flags applied
// through the settings table (settings.h), then the checks that involve
// several settings (TLS, the cluster list, limits that must be ordered),
// each bad value one line of ConfigLoad::errors. Also the cluster's
// fingerprint of the settings every member must share.
#include "server/config/config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string_view>

#include "protocol/inline_split.h"
#include "server/config/setting_values.h"
#include "server/config/settings.h"

namespace lockerd::server {
namespace {

using settings::FindSetting;
using settings::Setting;
using settings::Values;

void Apply(Config& config, std::string_view name, const Values& values, std::string_view where,
           std::vector<std::string>* errors) {
  const Setting* setting = FindSetting(name);
  if (setting == nullptr) {
    errors->push_back(std::string(where) + ": unknown setting '" + std::string(name) +
                      "' (see lockerd --help)");
    return;
  }
  const std::string error = setting->set(config, values);
  if (!error.empty()) {
    errors->push_back(std::string(where) + ": " + std::string(setting->name) + " " + error);
  }
}

void ReadConfigFile(Config& config, const std::string& path, std::vector<std::string>* errors) {
  std::ifstream file(path);
  if (!file) {
    errors->push_back("cannot read config file '" + path + "'");
    return;
  }
  std::string line;
  std::vector<std::string> words;
  int line_number = 0;
  while (std::getline(file, line)) {
    ++line_number;
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t count = 0;
    const std::string where = path + ":" + std::to_string(line_number);
    if (protocol::SplitInlineArgs(line, 1024, &words, &count) != protocol::InlineSplit::kOk) {
      errors->push_back(where + ": unbalanced quotes");
      continue;
    }
    if (count == 0) continue;
    Apply(config, words[0], Values(words.begin() + 1, words.begin() + static_cast<long>(count)),
          where, errors);
  }
}

void ValidateTls(const Config& config, std::vector<std::string>* errors) {
  if (config.port == 0 && config.tls_port == 0) {
    errors->push_back("port and tls-port are both 0: nothing to listen on");
  }
  if (config.port != 0 && config.port == config.tls_port) {
    errors->push_back("port and tls-port must differ");
  }
  if (config.tls_cluster && config.tls_port == 0) {
    errors->push_back("tls-cluster yes needs a tls-port: peers connect to it");
  }
  if (config.tls_port == 0 && !config.tls_cluster) return;
  if (config.tls_cert_file.empty()) errors->push_back("tls-port needs tls-cert-file");
  if (config.tls_key_file.empty()) errors->push_back("tls-port needs tls-key-file");
  const bool verifies = config.tls_auth_clients != TlsAuthClients::kNo || config.tls_cluster;
  if (verifies && config.tls_ca_cert_file.empty() && config.tls_ca_cert_dir.empty()) {
    errors->push_back("tls-auth-clients and tls-cluster need tls-ca-cert-file or tls-ca-cert-dir "
                      "to verify certificates against");
  }
}

void ValidateCluster(Config& config, std::vector<std::string>* errors) {
  if (config.advertise.empty() && !config.bind.empty()) {
    // Peers connect to the port the cluster's links use.
    const int port = config.tls_cluster ? config.tls_port : config.port;
    config.advertise = config.bind.front() + ":" + std::to_string(port);
  }
  if (config.cluster.empty()) return;
  std::string host;
  int port = 0;
  for (const std::string& member : config.cluster) {
    if (!SplitHostPort(member, &host, &port)) {
      errors->push_back("cluster: '" + member + "' is not host:port");
      return;
    }
  }
  if (config.cluster.size() > cluster::kMembersMax) {
    errors->push_back("cluster: at most " + std::to_string(cluster::kMembersMax) + " members");
    return;
  }
  const auto self = std::find(config.cluster.begin(), config.cluster.end(), config.advertise);
  if (self == config.cluster.end()) {
    errors->push_back("cluster: this member's address '" + config.advertise +
                      "' is not in the list; set --advertise host:port to the entry that is this "
                      "member");
    return;
  }
  config.self_index = static_cast<size_t>(self - config.cluster.begin());
  if (std::count(config.cluster.begin(), config.cluster.end(), config.advertise) > 1) {
    errors->push_back("cluster: '" + config.advertise + "' is listed twice");
  }
  if (config.cluster.size() > 1 && config.cluster_secret.empty()) {
    errors->push_back("cluster-secret is required with more than one member: peers prove "
                      "themselves with it");
  }
}

void Validate(const Config& config, std::vector<std::string>* errors) {
  const bool default_defined = std::any_of(config.users.begin(), config.users.end(),
                                           [](const AclUser& user) { return user.name() == "default"; });
  if (default_defined && !config.requirepass.empty()) {
    errors->push_back("requirepass and `user default` both set the default user's password: "
                      "use one (e.g. user default on >password ~* +@all)");
  }
  if (config.parser_limits.command_bytes_max < config.parser_limits.bulk_bytes_max) {
    errors->push_back("client-query-buffer-limit must be at least proto-max-bulk-len");
  }
  if (config.output_limit.soft_bytes > config.output_limit.hard_bytes) {
    errors->push_back("client-output-buffer-limit: the soft limit must not exceed the hard limit");
  }
}

}  // namespace

ConfigLoad LoadConfig(int argc, const char* const* argv, const AclCatalog& catalog) {
  ConfigLoad load;
  Config config;
  config.acl_catalog = &catalog;
  int i = 1;
  if (i < argc && std::string_view(argv[i]).substr(0, 2) != "--") {
    config.config_file = argv[i];
    ReadConfigFile(config, config.config_file, &load.errors);
    ++i;
  }
  while (i < argc) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      load.help = true;
      return load;
    }
    if (flag == "--version" || flag == "-v") {
      load.version = true;
      return load;
    }
    if (flag.substr(0, 2) != "--" || flag.size() == 2) {
      load.errors.push_back("unexpected argument '" + std::string(flag) +
                            "': settings are given as --name value");
      ++i;
      continue;
    }
    Values values;
    int j = i + 1;
    // Values run up to the next "--": as in Redis, a value that itself starts
    // with "--" must be given in the config file.
    while (j < argc && std::string_view(argv[j]).substr(0, 2) != "--") {
      values.emplace_back(argv[j]);
      ++j;
    }
    Apply(config, flag.substr(2), values, "--" + std::string(flag.substr(2)), &load.errors);
    i = j;
  }
  Validate(config, &load.errors);
  ValidateTls(config, &load.errors);
  ValidateCluster(config, &load.errors);
  if (load.errors.empty()) load.config = std::move(config);
  return load;
}

}  // namespace lockerd::server
