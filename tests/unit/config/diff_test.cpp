#include "config/diff.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using namespace config;
using config_test::load_ok;
using Names = std::vector<std::string>;

constexpr const char* kBase = R"(
global: {firewall: pf}
instances:
  - {name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1}
  - {name: b, listen: "127.0.0.1:8022", public: 198.18.0.2, interface: em0, backend: 198.19.0.2}
  - {name: c, listen: "127.0.0.1:8023", public: 198.18.0.3, interface: em0, backend: 198.19.0.3}
)";

TEST(ConfigDiff, SameConfigIsUnchanged) {
    const Config config = load_ok(kBase);
    EXPECT_EQ(diff_configs(config, config), (ConfigDiff{{"a", "b", "c"}, {}, {}, {}}));
}

TEST(ConfigDiff, AddedRemovedChangedByName) {
    const Config before = load_ok(kBase);
    const Config after = load_ok(R"(
global: {firewall: pf}
instances:
  - {name: d, listen: "127.0.0.1:8024", public: 198.18.0.4, interface: em0, backend: 198.19.0.4}
  - {name: c, listen: "127.0.0.1:8023", public: 198.18.0.3, interface: em0, backend: 198.19.0.9}
  - {name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1}
)");
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{"a"}, {"c"}, {"d"}, {"b"}}));
}

TEST(ConfigDiff, WhatCountsAsAChange) {
    const Config before = load_ok(kBase);
    // Each variation of instance 'a' must be seen: argv-only, rules-only.
    for (
        const char* a_line : {
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, max_sessions: 7})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, log_commands: true})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, passive_ports: 50000-50100})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, relay: copy})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em1, backend: 198.19.0.1})",
            R"({name: a, listen: "127.0.0.1:8021", public: "198.18.0.1:2121", interface: em0, backend: 198.19.0.1})",
            R"({name: a, listen: "0.0.0.0:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1})",
            R"({name: a, listen: "127.0.0.1:8029", public: 198.18.0.1, interface: em0, backend: 198.19.0.1})",
            // Not in the argv: the backends after the first, and the checks.
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: [198.19.0.1, 198.19.0.9]})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, health_check: {rise: 5}})",
            R"({name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, health_check: off})",
        }) {
        const std::string yaml = std::string("global: {firewall: pf}\ninstances:\n  - ") + a_line +
                                 R"(
  - {name: b, listen: "127.0.0.1:8022", public: 198.18.0.2, interface: em0, backend: 198.19.0.2}
  - {name: c, listen: "127.0.0.1:8023", public: 198.18.0.3, interface: em0, backend: 198.19.0.3}
)";
        EXPECT_EQ(diff_configs(before, load_ok(yaml)), (ConfigDiff{{"b", "c"}, {"a"}, {}, {}}))
            << a_line;
    }
}

TEST(ConfigDiff, RelayPipeSizeChangeRestarts) {
    if (!kSpliceAvailable) {
        GTEST_SKIP() << "splice(2) exists only on Linux";
    }
    const Config before = load_ok(kBase);
    const Config after = load_ok(R"(
global: {firewall: pf}
instances:
  - {name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, interface: em0, backend: 198.19.0.1, relay_pipe_size: 1048576}
  - {name: b, listen: "127.0.0.1:8022", public: 198.18.0.2, interface: em0, backend: 198.19.0.2, relay: splice, relay_pipe_size: 262144}
  - {name: c, listen: "127.0.0.1:8023", public: 198.18.0.3, interface: em0, backend: 198.19.0.3}
)");
    // b only writes the defaults out: same worker, nothing to restart.
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{"b", "c"}, {"a"}, {}, {}}));
}

TEST(ConfigDiff, GlobalSettingsThatReachEveryWorker) {
    const Config before = load_ok(kBase);
    Config after = before;
    after.global.worker_user = "other";
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{}, {"a", "b", "c"}, {}, {}}));
    after = before;
    after.global.log_level = LogLevel::debug;  // the loader resolves it per instance
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{"a", "b", "c"}, {}, {}, {}}));
}

TEST(ConfigDiff, FirewallSwitchRestartsNoWorker) {
    const Config before = load_ok(kBase);
    Config after = before;
    after.global.firewall = Firewall::nftables;
    after.global.pf_syntax = PfSyntax::freebsd;
    after.global.reload_command = {"/usr/sbin/nft", "-f", "/x"};
    EXPECT_EQ(diff_configs(before, after), (ConfigDiff{{"a", "b", "c"}, {}, {}, {}}));
}

TEST(ConfigDiff, EmptyConfigs) {
    const Config empty = load_ok("instances: []\n");
    const Config base = load_ok(kBase);
    EXPECT_EQ(diff_configs(empty, base), (ConfigDiff{{}, {}, {"a", "b", "c"}, {}}));
    EXPECT_EQ(diff_configs(base, empty), (ConfigDiff{{}, {}, {}, {"a", "b", "c"}}));
}

}  // namespace
