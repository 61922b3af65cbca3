#include "server/commands/command_table.h"
#include "server/config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "cluster/broken.h"
#include "server/engine/engine.h"

namespace lockerd::server {
namespace {

ConfigLoad Load(std::vector<const char*> args) {
  args.insert(args.begin(), "lockerd");
  return LoadConfig(static_cast<int>(args.size()), args.data(), CommandAclCatalog());
}

TEST(Config, DefaultsAreSafe) {
  const ConfigLoad load = Load({});
  ASSERT_TRUE(load.config.has_value());
  const Config& config = *load.config;
  EXPECT_EQ(config.bind, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(config.port, 6379);
  EXPECT_EQ(config.max_lease_ms, 60000);
  EXPECT_EQ(config.parser_limits.bulk_bytes_max, 1u << 20);
  EXPECT_TRUE(config.protected_mode);
}

TEST(Config, FileThenFlagsOverride) {
  const std::string path = ::testing::TempDir() + "/lockerd-config-test.conf";
  {
    std::ofstream file(path);
    file << "# a comment\n"
            "port 7000\n"
            "bind 0.0.0.0 ::1\n"
            "requirepass \"pass word\"\n"
            "proto-max-bulk-len 64kb\n"
            "client-output-buffer-limit normal 32mb 4mb 30\n"
            "\n"
            "loglevel WARNING\n";
  }
  const ConfigLoad load = Load({path.c_str(), "--port", "7001", "--max-lease-ms", "5000"});
  ASSERT_TRUE(load.config.has_value()) << (load.errors.empty() ? "" : load.errors[0]);
  const Config& config = *load.config;
  EXPECT_EQ(config.port, 7001);
  EXPECT_EQ(config.bind, (std::vector<std::string>{"0.0.0.0", "::1"}));
  EXPECT_EQ(config.requirepass, "pass word");
  EXPECT_EQ(config.parser_limits.bulk_bytes_max, 64u * 1024);
  EXPECT_EQ(config.output_limit.hard_bytes, 32u << 20);
  EXPECT_EQ(config.output_limit.soft_seconds, 30);
  EXPECT_EQ(config.loglevel, LogLevel::kWarning);
  EXPECT_EQ(config.max_lease_ms, 5000);
  EXPECT_EQ(config.config_file, path);
  std::remove(path.c_str());
}

TEST(Config, EveryBadValueGetsItsOwnMessage) {
  const ConfigLoad load =
      Load({"--port", "70000", "--max-lease-ms", "0", "--nosuch", "1", "--lease-drift", "2"});
  EXPECT_FALSE(load.config.has_value());
  ASSERT_EQ(load.errors.size(), 4u);
  EXPECT_EQ(load.errors[0], "--port: port must be an integer between 0 and 65535");
  EXPECT_NE(load.errors[2].find("unknown setting 'nosuch'"), std::string::npos);
}

TEST(Config, CrossChecks) {
  EXPECT_FALSE(Load({"--client-output-buffer-limit", "normal", "1mb", "2mb", "10"}).config);
  EXPECT_FALSE(Load({"--client-query-buffer-limit", "1kb", "--proto-max-bulk-len", "2kb"}).config);
  EXPECT_FALSE(Load({"--client-output-buffer-limit", "normal", "0", "0", "0"}).config)
      << "unbounded output is not allowed";
}

TEST(Config, ClusterFindsThisMemberInTheList) {
  const ConfigLoad load = Load({"--port", "7002", "--cluster", "127.0.0.1:7001,127.0.0.1:7002",
                                "127.0.0.1:7003", "--cluster-secret", "s"});
  ASSERT_TRUE(load.config.has_value()) << (load.errors.empty() ? "" : load.errors[0]);
  EXPECT_EQ(load.config->cluster.size(), 3u) << "commas and separate values both work";
  EXPECT_EQ(load.config->advertise, "127.0.0.1:7002") << "defaults to bind:port";
  EXPECT_EQ(load.config->self_index, 1u);
  const ConfigLoad advertised = Load({"--cluster", "a:1,b:2,c:3", "--advertise", "c:3",
                                      "--cluster-secret", "s"});
  ASSERT_TRUE(advertised.config.has_value());
  EXPECT_EQ(advertised.config->self_index, 2u);
}

TEST(Config, ClusterMistakesAreExplained) {
  const auto first_error = [](std::vector<const char*> args) {
    const ConfigLoad load = Load(std::move(args));
    return load.errors.empty() ? std::string() : load.errors[0];
  };
  EXPECT_NE(first_error({"--cluster", "a:1,b:2", "--advertise", "c:3", "--cluster-secret", "s"})
                .find("not in the list"),
            std::string::npos);
  EXPECT_NE(first_error({"--cluster", "a:1,b:2", "--advertise", "a:1"}).find("cluster-secret"),
            std::string::npos);
  EXPECT_NE(first_error({"--cluster", "a:1,nonsense", "--advertise", "a:1"}).find("host:port"),
            std::string::npos);
  EXPECT_NE(first_error({"--cluster", "a:1,a:1", "--advertise", "a:1", "--cluster-secret", "s"})
                .find("twice"),
            std::string::npos);
  std::string host;
  int port = 0;
  EXPECT_TRUE(SplitHostPort("[::1]:6379", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort("host:0", &host, &port));
}

TEST(Config, MissingFileIsAnError) {
  const ConfigLoad load = Load({"/nonexistent/lockerd.conf"});
  EXPECT_FALSE(load.config);
  EXPECT_EQ(load.errors.at(0), "cannot read config file '/nonexistent/lockerd.conf'");
}

TEST(Config, HelpAndVersion) {
  EXPECT_TRUE(Load({"--help"}).help);
  EXPECT_TRUE(Load({"--version"}).version);
  const std::string help = HelpText();
  for (const char* name : {"--bind", "--port", "--maxclients", "--requirepass", "--max-lease-ms",
                           "--dir", "--loglevel", "--proto-max-bulk-len",
                           "--client-output-buffer-limit", "--timeout"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

TEST(Config, TlsSettingsAreCheckedTogether) {
  const ConfigLoad tls = Load({"--tls-port", "7443", "--tls-cert-file", "s.crt", "--tls-key-file",
                               "s.key", "--tls-ca-cert-file", "ca.crt", "--tls-protocols",
                               "TLSv1.3"});
  ASSERT_TRUE(tls.config.has_value());
  EXPECT_EQ(tls.config->tls_port, 7443);
  EXPECT_EQ(tls.config->tls_auth_clients, TlsAuthClients::kYes) << "client certificates by default";
  EXPECT_EQ(tls.config->tls_protocol_min, 0x0304);
  EXPECT_EQ(ConfigGet(*tls.config, "tls-protocols")[0].second, "TLSv1.3");
  EXPECT_FALSE(Load({"--tls-port", "7443"}).config) << "needs a certificate and key";
  EXPECT_FALSE(Load({"--tls-port", "7443", "--tls-cert-file", "s.crt", "--tls-key-file", "s.key"})
                   .config)
      << "verifying client certificates needs a CA";
  EXPECT_TRUE(Load({"--tls-port", "7443", "--tls-cert-file", "s.crt", "--tls-key-file", "s.key",
                    "--tls-auth-clients", "no"})
                  .config);
  EXPECT_FALSE(Load({"--port", "0"}).config) << "nothing to listen on";
  EXPECT_FALSE(Load({"--tls-auth-clients", "maybe"}).config);
  EXPECT_FALSE(Load({"--tls-protocols", "SSLv3"}).config);
  EXPECT_FALSE(Load({"--tls-cluster", "yes"}).config) << "peers need a tls-port";
  const ConfigLoad cluster =
      Load({"--port", "0", "--tls-port", "7443", "--tls-cert-file", "s.crt", "--tls-key-file",
            "s.key", "--tls-ca-cert-file", "ca.crt", "--tls-cluster", "yes", "--cluster",
            "127.0.0.1:7443,127.0.0.1:7444", "--cluster-secret", "x"});
  ASSERT_TRUE(cluster.config.has_value()) << (cluster.errors.empty() ? "" : cluster.errors[0]);
  EXPECT_EQ(cluster.config->advertise, "127.0.0.1:7443") << "peers connect to the TLS port";
  const std::string help = HelpText();
  for (const char* name : {"--tls-port", "--tls-cert-file", "--tls-key-file", "--tls-ca-cert-file",
                           "--tls-ca-cert-dir", "--tls-auth-clients", "--tls-cluster",
                           "--tls-protocols"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

TEST(Config, MemorySizesReadLikeRedis) {
  EXPECT_EQ(ParseMemory("100"), 100u);
  EXPECT_EQ(ParseMemory("1k"), 1000u);
  EXPECT_EQ(ParseMemory("1kb"), 1024u);
  EXPECT_EQ(ParseMemory("2MB"), 2u << 20);
  EXPECT_EQ(ParseMemory("1gb"), 1u << 30);
  EXPECT_EQ(ParseMemory("1tb"), std::nullopt);
  EXPECT_EQ(ParseMemory("mb"), std::nullopt);
  EXPECT_EQ(ParseMemory("-1"), std::nullopt);
}

TEST(Config, ConfigGetByPattern) {
  const Config config = *Load({"--port", "7002"}).config;
  const auto pairs = ConfigGet(config, "PORT");
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0], (std::pair<std::string, std::string>{"port", "7002"}));
}

// The production binary cannot break a rule of CLUSTER-SAFETY.md: no
// setting reaches the node's broken rules (only the fault suite's
// lockerd_broken sets them, through RunLockerd), --help names none, and
// CONFIG GET shows none.
// What a member with an empty dir may assume (docs/SPEC.md, "Membership"):
// by default the list's configuration once every listed member knows none.
TEST(Config, InitialClusterStateIsNewOrExistingAndReachesTheNode) {
  using First = cluster::NodeOptions::FirstConfiguration;
  const auto first = [](std::vector<const char*> args) {
    const ConfigLoad load = Load(args);
    EXPECT_TRUE(load.config.has_value()) << (load.errors.empty() ? "" : load.errors[0]);
    const Engine engine(LockerdCommands(), *load.config, {0, 1'700'000'000'000});
    return engine.node().options().first_configuration;
  };
  EXPECT_EQ(first({}), First::kWhenEveryMemberKnowsNone);
  EXPECT_EQ(first({"--initial-cluster-state", "new"}), First::kAlsoWithAMemberMissing);
  EXPECT_EQ(first({"--initial-cluster-state", "EXISTING"}), First::kNever);
  const ConfigLoad bad = Load({"--initial-cluster-state", "maybe"});
  EXPECT_FALSE(bad.config.has_value());
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0], "--initial-cluster-state: initial-cluster-state must be new or existing");
}

TEST(Config, NoSettingBreaksASafetyRule) {
  const ConfigLoad load = Load({"--debug-break-rule", "success-without-majority"});
  EXPECT_FALSE(load.config.has_value());
  const Config config = *Load({}).config;
  EXPECT_EQ(cluster::BrokenRuleNames(config.broken_rules), "");
  EXPECT_EQ(HelpText().find("break"), std::string::npos);
  for (const auto& [name, value] : ConfigGet(config, "*")) {
    EXPECT_EQ(name.find("break"), std::string::npos) << name;
  }
}

TEST(Config, IdleTimeoutIsSecondsAndOffByDefault) {
  EXPECT_EQ(Load({}).config->idle_timeout_seconds, 0);
  const Config config = *Load({"--timeout", "300"}).config;
  EXPECT_EQ(config.idle_timeout_seconds, 300);
  const auto pairs = ConfigGet(config, "timeout");
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0], (std::pair<std::string, std::string>{"timeout", "300"}));
  const ConfigLoad negative = Load({"--timeout", "-1"});
  EXPECT_FALSE(negative.config);
  EXPECT_EQ(negative.errors.at(0), "--timeout: timeout must be an integer between 0 and 31536000");
  EXPECT_FALSE(Load({"--timeout", "1s"}).config);
}

}  // namespace
}  // namespace lockerd::server
