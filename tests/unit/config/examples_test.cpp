// The YAML files shipped with the project must load, and say what they claim.
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "config/worker_argv.hpp"
#include "test_support.hpp"
#include "tls_test_files.hpp"

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

// Its certificate files are made here, in a temporary directory that
// stands for /etc/ftpproxy/tls.
class ExamplesTls : public config_test::TlsFilesTest {};

TEST_F(ExamplesTls, FtpsReverse) {
    std::string text = config_test::read_file(FTPPROXY_SOURCE_DIR "/examples/ftps-reverse.yaml");
    for (auto at = text.find("/etc/ftpproxy/tls"); at != std::string::npos;
         at = text.find("/etc/ftpproxy/tls", at))
        text.replace(at, std::string_view("/etc/ftpproxy/tls").size(), dir_);
    const auto proxy = config_test::make_test_pem("ftp.example.org");
    const std::string cert = write("ftp.example.org.pem", proxy.certificate);
    const std::string key = write("ftp.example.org.key", proxy.key);
    const std::string ca = write("internal-ca.pem", config_test::make_test_pem("CA").certificate);
    const Config config = config_test::load_ok(text);
    ASSERT_EQ(config.instances.size(), 3u);
    for (const Instance& instance : config.instances) {
        SCOPED_TRACE(instance.name);
        EXPECT_EQ(instance.tls.certificate, cert);
        EXPECT_EQ(instance.tls.key, key);
        EXPECT_EQ(instance.tls.handshake_timeout, std::chrono::seconds(15));
        EXPECT_EQ(instance.tls.files_sha256.size(), 64u);
    }
    const TlsSettings& files = config.instances[0].tls;
    EXPECT_EQ(files.client, ClientTls::required);
    EXPECT_EQ(files.server, ServerTls::required);
    EXPECT_EQ(files.server_ca, ca);
    EXPECT_EQ(files.server_name, "files.internal.example.org");
    const TlsSettings& legacy = config.instances[1].tls;
    EXPECT_EQ(legacy.client, ClientTls::required);
    EXPECT_EQ(legacy.server, ServerTls::off);
    const TlsSettings& appliance = config.instances[2].tls;
    EXPECT_EQ(appliance.client, ClientTls::optional);
    EXPECT_EQ(appliance.server, ServerTls::automatic);
    EXPECT_EQ(appliance.server_fingerprint.size(), 64u);
    const auto argv = worker_argv(config.global, config.instances[1]);
    EXPECT_NE(std::find(argv.begin(), argv.end(), "--tls-cert"), argv.end());
}

}  // namespace
