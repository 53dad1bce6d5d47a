// The YAML files shipped with the project must load, and say what they claim.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "test_support.hpp"

namespace {

using namespace config;

Config load_shipped(const std::string& relative) {
    const auto result = load_config_file(FTPPROXY_SOURCE_DIR "/" + relative);
    EXPECT_TRUE(result.config) << config_test::error_text(result);
    return result.config.value_or(Config{});
}

TEST(Examples, DocumentedDefaultConfig) {
    const Config config = load_shipped("config/ftpproxy.yaml");
    EXPECT_TRUE(config.instances.empty());
    EXPECT_EQ(config.global.firewall, Firewall::none);
    EXPECT_EQ(config.global.control_socket, "/run/ftpproxyd/control.sock");
}

TEST(Examples, Cluster12Carp) {
    const Config config = load_shipped("examples/cluster-12-carp.yaml");
    ASSERT_EQ(config.instances.size(), 12u);
    EXPECT_EQ(config.global.firewall, Firewall::pf);
    for (std::size_t i = 0; i < config.instances.size(); ++i) {
        const Instance& instance = config.instances[i];
        const std::string n = std::to_string(i + 1);
        SCOPED_TRACE(instance.name);
        EXPECT_EQ(instance.listen_address.to_string(), "127.0.0.1");
        EXPECT_EQ(instance.listen_port, 8021 + i);
        ASSERT_TRUE(instance.public_address);
        EXPECT_EQ(instance.public_address->to_string(), "198.18.0." + n);
        EXPECT_EQ(instance.public_port, 21);
        EXPECT_EQ(instance.backends, (std::vector<Backend>{{"198.19.0." + n, 21}}));
        EXPECT_EQ(instance.interface, "em0");
        EXPECT_TRUE(instance.health_check.enabled);
        EXPECT_EQ(instance.health_check.interval, std::chrono::milliseconds(1000));
    }
    EXPECT_EQ(config.cluster.demotion, Demotion::openbsd_carp);
    EXPECT_EQ(config.cluster.carp_group, "carp");
    EXPECT_EQ(config.cluster.demote_by, 50);
}

TEST(Examples, ClusterKeepalived) {
    const Config config = load_shipped("examples/cluster-keepalived.yaml");
    ASSERT_EQ(config.instances.size(), 1u);
    const Instance& instance = config.instances[0];
    EXPECT_EQ(instance.mode, Mode::reverse);
    EXPECT_EQ(instance.listen_address.to_string(), "198.18.0.1");
    EXPECT_FALSE(instance.source_address);
    EXPECT_EQ(instance.health_check.timeout, std::chrono::milliseconds(300));
    EXPECT_EQ(config.cluster.demotion, Demotion::keepalived);
    EXPECT_EQ(config.cluster.handoff_nodes.size(), 2u);
}

TEST(Examples, Demo) {
    const Config config = load_shipped("examples/demo.yaml");
    ASSERT_EQ(config.instances.size(), 2u);
    EXPECT_EQ(config.global.firewall, Firewall::none);
    for (const Instance& instance : config.instances) {
        EXPECT_EQ(instance.mode, Mode::reverse);
        EXPECT_EQ(instance.listen_address.to_string(), "127.0.0.1");
        EXPECT_EQ(instance.backends, (std::vector<Backend>{{"127.0.0.1", 2121}}));
    }
    EXPECT_EQ(config.instances[0].listen_port, 8021);
    EXPECT_EQ(config.instances[1].listen_port, 8022);
}

}  // namespace
