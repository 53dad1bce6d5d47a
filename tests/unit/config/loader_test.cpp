// Valid files: every key reaches the model, defaults apply in order.
#include "config/loader.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using namespace config;
using config_test::load_ok;
using std::chrono::seconds;

TEST(ConfigLoader, MinimalFileGivesDocumentedDefaults) {
    const Config config = load_ok("instances: []\n");
    EXPECT_EQ(config.global.control_socket, "/run/ftpproxyd/control.sock");
    EXPECT_EQ(config.global.runtime_dir, "/run/ftpproxyd");
    // The sbin directory of the build's install prefix (/usr/local by default).
    EXPECT_EQ(config.global.worker_binary, kDefaultWorkerBinary);
    EXPECT_TRUE(config.global.worker_binary.ends_with("/sbin/ftp-proxy"));
    EXPECT_EQ(config.global.worker_user, "_ftp_proxy");
    EXPECT_EQ(config.global.control_group, "");
    EXPECT_EQ(config.global.drain_timeout, seconds(300));
    EXPECT_EQ(config.global.log_level, LogLevel::notice);
    EXPECT_EQ(config.global.firewall, Firewall::none);
    EXPECT_EQ(config.global.rules_file, "");
    EXPECT_TRUE(config.global.reload_command.empty());
    EXPECT_FALSE(config.global.metrics_listen);  // off
    EXPECT_TRUE(config.instances.empty());
}

TEST(ConfigLoader, ReadsEveryGlobalKey) {
    const Config config = load_ok(R"(
global:
  control_socket: /run/x/ctl.sock
  control_group: ftpadmin
  drain_timeout: 15m
  runtime_dir: /run/x
  worker_binary: /opt/ftpproxy/sbin/ftp-proxy
  worker_user: ftpx
  log_level: debug
  firewall: pf
  pf_syntax: freebsd
  rules_file: /etc/pf.ftpproxy.conf
  reload_command: [/sbin/pfctl, -f, /etc/pf.conf]
  metrics_listen: "[fd18::1]:9121"
instances: []
)");
    EXPECT_EQ(config.global.control_socket, "/run/x/ctl.sock");
    EXPECT_EQ(config.global.control_group, "ftpadmin");
    EXPECT_EQ(config.global.drain_timeout, seconds(900));
    EXPECT_EQ(config.global.runtime_dir, "/run/x");
    EXPECT_EQ(config.global.worker_binary, "/opt/ftpproxy/sbin/ftp-proxy");
    EXPECT_EQ(config.global.worker_user, "ftpx");
    EXPECT_EQ(config.global.log_level, LogLevel::debug);
    EXPECT_EQ(config.global.firewall, Firewall::pf);
    EXPECT_EQ(config.global.pf_syntax, PfSyntax::freebsd);
    EXPECT_EQ(config.global.rules_file, "/etc/pf.ftpproxy.conf");
    EXPECT_EQ(config.global.reload_command,
              (std::vector<std::string>{"/sbin/pfctl", "-f", "/etc/pf.conf"}));
    ASSERT_TRUE(config.global.metrics_listen);
    EXPECT_EQ(common::format_endpoint(*config.global.metrics_listen), "[fd18::1]:9121");
}

TEST(ConfigLoader, FirewallDefaultsFollowTheChosenFirewall) {
    Config config = load_ok("global: {firewall: nftables}\ninstances: []\n");
    EXPECT_EQ(config.global.rules_file, "/etc/ftpproxy/ftpproxy.nft");
    EXPECT_EQ(config.global.reload_command,
              (std::vector<std::string>{"/usr/sbin/nft", "-f", "/etc/ftpproxy/ftpproxy.nft"}));

    // The default reload loads the file actually written.
    config = load_ok("global: {firewall: nftables, rules_file: /etc/x.nft}\ninstances: []\n");
    EXPECT_EQ(config.global.reload_command,
              (std::vector<std::string>{"/usr/sbin/nft", "-f", "/etc/x.nft"}));

    config = load_ok("global: {firewall: pf}\ninstances: []\n");
    EXPECT_EQ(config.global.rules_file, "/etc/ftpproxy/pf.conf");
    EXPECT_EQ(config.global.pf_syntax, PfSyntax::openbsd);
    EXPECT_EQ(config.global.reload_command,
              (std::vector<std::string>{"/sbin/pfctl", "-f", "/etc/pf.conf"}));

    config = load_ok("global: {firewall: pf, reload_command: []}\ninstances: []\n");
    EXPECT_TRUE(config.global.reload_command.empty());
}

TEST(ConfigLoader, ReadsEveryInstanceKey) {
    const Config config = load_ok(R"(
instances:
  - name: ftp01
    mode: reverse
    listen: 127.0.0.1:8021
    public: 198.18.0.1:2121
    interface: carp0
    backend: 198.19.0.1:2021
    source: 198.19.0.254
    max_sessions: 500
    idle_timeout: 2h
    data_timeout: 45
    passive_ports: 50000-50999
    anonymous_only: true
    log_commands: yes
    passive_to_server: on
    relay: copy
    log_level: 7
)");
    ASSERT_EQ(config.instances.size(), 1u);
    const Instance& instance = config.instances[0];
    EXPECT_EQ(instance.name, "ftp01");
    EXPECT_EQ(instance.mode, Mode::reverse);
    EXPECT_EQ(instance.listen_address.to_string(), "127.0.0.1");
    EXPECT_EQ(instance.listen_port, 8021);
    ASSERT_TRUE(instance.public_address);
    EXPECT_EQ(instance.public_address->to_string(), "198.18.0.1");
    EXPECT_EQ(instance.public_port, 2121);
    EXPECT_EQ(instance.interface, "carp0");
    EXPECT_EQ(instance.backends, (std::vector<Backend>{{"198.19.0.1", 2021}}));
    ASSERT_TRUE(instance.source_address);
    EXPECT_EQ(instance.source_address->to_string(), "198.19.0.254");
    EXPECT_EQ(instance.max_sessions, 500);
    EXPECT_EQ(instance.idle_timeout, seconds{7200});
    EXPECT_EQ(instance.data_timeout, seconds{45});
    EXPECT_EQ(instance.passive_ports, (common::PortRange{50000, 50999}));
    EXPECT_TRUE(instance.anonymous_only);
    EXPECT_TRUE(instance.log_commands);
    EXPECT_TRUE(instance.passive_to_server);
    EXPECT_EQ(instance.relay, Relay::copy);
    EXPECT_EQ(instance.log_level, LogLevel::debug);
}

TEST(ConfigLoader, ReadsRelayPipeSize) {
    if (!kSpliceAvailable) {
        GTEST_SKIP() << "splice(2) exists only on Linux";
    }
    const Config config = load_ok(R"(
instances:
  - {name: a, listen: 127.0.0.1:8021, backend: h, relay: splice, relay_pipe_size: 1048576}
)");
    ASSERT_EQ(config.instances.size(), 1u);
    EXPECT_EQ(config.instances[0].relay, Relay::splice);
    EXPECT_EQ(config.instances[0].relay_pipe_size, 1048576);
}

TEST(ConfigLoader, InstanceDefaults) {
    const Config config = load_ok(R"(
instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: ftp.example.org
)");
    ASSERT_EQ(config.instances.size(), 1u);
    const Instance& instance = config.instances[0];
    EXPECT_EQ(instance.mode, Mode::reverse);
    EXPECT_EQ(instance.public_address, std::nullopt);
    EXPECT_EQ(instance.public_port, 21);
    EXPECT_EQ(instance.interface, "");
    EXPECT_EQ(instance.backends, (std::vector<Backend>{{"ftp.example.org", 21}}));
    EXPECT_EQ(instance.source_address, std::nullopt);
    EXPECT_EQ(instance.max_sessions, 100);
    EXPECT_EQ(instance.idle_timeout, seconds{86400});
    EXPECT_EQ(instance.data_timeout, seconds{30});
    EXPECT_EQ(instance.passive_ports, std::nullopt);
    EXPECT_FALSE(instance.anonymous_only);
    EXPECT_FALSE(instance.log_commands);
    EXPECT_FALSE(instance.passive_to_server);
    EXPECT_EQ(instance.relay, kSpliceAvailable ? Relay::splice : Relay::copy);
    EXPECT_EQ(instance.relay_pipe_size, 262144);
    EXPECT_EQ(instance.log_level, LogLevel::notice);
}

TEST(ConfigLoader, DefaultsSectionThenInstanceOverride) {
    // 'global' after 'instances' on purpose: sections apply in a fixed order.
    const Config config = load_ok(R"(
defaults:
  interface: em0
  max_sessions: 50
  log_level: info
instances:
  - name: a
    listen: 127.0.0.1:8021
    backend: 198.19.0.1
  - name: b
    listen: 127.0.0.1:8022
    backend: 198.19.0.2
    interface: em1
    max_sessions: 60
    log_level: err
global:
  log_level: warning
)");
    ASSERT_EQ(config.instances.size(), 2u);
    EXPECT_EQ(config.global.log_level, LogLevel::warning);
    EXPECT_EQ(config.instances[0].interface, "em0");
    EXPECT_EQ(config.instances[0].max_sessions, 50);
    EXPECT_EQ(config.instances[0].log_level, LogLevel::info);
    EXPECT_EQ(config.instances[1].interface, "em1");
    EXPECT_EQ(config.instances[1].max_sessions, 60);
    EXPECT_EQ(config.instances[1].log_level, LogLevel::err);
}

TEST(ConfigLoader, GlobalLogLevelIsTheInstancesDefault) {
    const Config config = load_ok(R"(
global: {log_level: 6}
instances: [{name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}]
)");
    ASSERT_EQ(config.instances.size(), 1u);
    EXPECT_EQ(config.instances[0].log_level, LogLevel::info);
}

TEST(ConfigLoader, Ipv6AndCanonicalForms) {
    const Config config = load_ok(R"(
global: {firewall: nftables}
instances:
  - name: v6
    listen: "[::]:8021"
    public: "[2001:DB8::0001]"
    backend: "[2001:db8:0:0::10]:2121"
    source: 2001:db8::fe
  - name: v6b
    listen: "[2001:db8::1]:8022"
    public: 2001:db8::2
    backend: 2001:db8::11
)");
    ASSERT_EQ(config.instances.size(), 2u);
    const Instance& v6 = config.instances[0];
    EXPECT_TRUE(v6.listen_address.is_v6());
    EXPECT_TRUE(v6.listen_address.is_unspecified());
    EXPECT_EQ(v6.public_address->to_string(), "2001:db8::1");
    EXPECT_EQ(v6.public_port, 21);
    EXPECT_EQ(v6.backends, (std::vector<Backend>{{"2001:db8::10", 2121}}));
    EXPECT_EQ(config.instances[1].public_address->to_string(), "2001:db8::2");
    EXPECT_EQ(config.instances[1].backends, (std::vector<Backend>{{"2001:db8::11", 21}}));
}

TEST(ConfigLoader, ForwardMode) {
    const Config config = load_ok(R"(
global: {firewall: nftables}
instances:
  - name: out
    mode: forward
    listen: 127.0.0.1:8021
    interface: lan0
)");
    ASSERT_EQ(config.instances.size(), 1u);
    EXPECT_EQ(config.instances[0].mode, Mode::forward);
    EXPECT_TRUE(config.instances[0].backends.empty());
}

TEST(ConfigLoader, DurationForms) {
    const Config config = load_ok(R"(
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, idle_timeout: 90, data_timeout: 1m}
  - {name: b, listen: "127.0.0.1:8022", backend: h, idle_timeout: 30d, data_timeout: 1h}
  - {name: c, listen: "127.0.0.1:8023", backend: h, idle_timeout: 1s, data_timeout: 10s}
)");
    ASSERT_EQ(config.instances.size(), 3u);
    EXPECT_EQ(config.instances[0].idle_timeout, seconds{90});
    EXPECT_EQ(config.instances[0].data_timeout, seconds{60});
    EXPECT_EQ(config.instances[1].idle_timeout, seconds{30 * 86400});
    EXPECT_EQ(config.instances[1].data_timeout, seconds{3600});
    EXPECT_EQ(config.instances[2].idle_timeout, seconds{1});
}

TEST(ConfigLoader, ReadsAFile) {
    const auto result = load_config_file(FTPPROXY_SOURCE_DIR "/examples/demo.yaml");
    EXPECT_TRUE(result.config) << config_test::error_text(result);
}

TEST(ConfigLoader, MissingFileIsOneError) {
    const auto result = load_config_file("/nonexistent/ftpproxy.yaml");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(to_string(result.errors[0]),
              "/nonexistent/ftpproxy.yaml:1:1: cannot open: No such file or directory");
}

}  // namespace
