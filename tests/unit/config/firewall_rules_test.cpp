// The configuration's pf and nftables fragments: from ftpproxy.yaml to the
// firewall module's generators, and the real nft parser on the result.
#include "config/firewall_rules.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.hpp"
#include "firewall/nft_fragment.hpp"
#include "firewall/pf_fragment.hpp"
#include "test_support.hpp"

namespace {

using namespace config;
using common::write_file_atomically;
using config_test::load_ok;
using config_test::read_file;

const std::string kGoldenDir = CONFIG_GOLDEN_DIR;

Config load_file_ok(const std::string& path) {
    const auto result = load_config_file(path);
    EXPECT_TRUE(result.config) << config_test::error_text(result);
    return result.config.value_or(Config{});
}

// FTPPROXY_UPDATE_GOLDEN=1 rewrites the golden file instead of comparing;
// review the diff before committing it.
void expect_golden(const std::string& name, const std::string& actual) {
    const std::string path = kGoldenDir + "/" + name;
    if (std::getenv("FTPPROXY_UPDATE_GOLDEN") != nullptr) {
        write_file_atomically(path, actual);
        return;
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing";
    EXPECT_EQ(actual, read_file(path))
        << "differs from " << path << " (FTPPROXY_UPDATE_GOLDEN=1 rewrites it)";
}

// rules.yaml is the input of the firewall module's golden files
// (tests/unit/firewall/golden/): the configuration reaches the fragment
// generators whole (tests/unit/firewall/fragment_test.cpp builds the same
// instances by hand).
TEST(FirewallRules, RulesYamlGivesTheFirewallModulesGoldenFiles) {
    Config config = load_file_ok(kGoldenDir + "/rules.yaml");
    const std::string firewall_golden = FTPPROXY_SOURCE_DIR "/tests/unit/firewall/golden/";
    config.global.firewall = Firewall::pf;
    config.global.pf_syntax = PfSyntax::openbsd;
    EXPECT_EQ(render_firewall_rules(config), read_file(firewall_golden + "pf-openbsd.conf"));
    config.global.pf_syntax = PfSyntax::freebsd;
    EXPECT_EQ(render_firewall_rules(config), read_file(firewall_golden + "pf-freebsd.conf"));
    config.global.firewall = Firewall::nftables;
    EXPECT_EQ(render_firewall_rules(config), read_file(firewall_golden + "ftpproxy.nft"));
}

TEST(FirewallRules, ClusterExampleGolden) {
    const Config config = load_file_ok(FTPPROXY_SOURCE_DIR "/examples/cluster-12-carp.yaml");
    const auto text = render_firewall_rules(config);
    ASSERT_TRUE(text);
    expect_golden("cluster-12-carp.pf.conf", *text);
}

TEST(FirewallRules, DispatchFollowsTheFirewallSetting) {
    Config config = load_ok("instances: []\n");
    EXPECT_EQ(render_firewall_rules(config), std::nullopt);
    config.global.firewall = Firewall::nftables;
    EXPECT_EQ(render_firewall_rules(config), firewall::render_nft_fragment({}));
    config.global.firewall = Firewall::pf;
    config.global.pf_syntax = PfSyntax::freebsd;
    EXPECT_EQ(render_firewall_rules(config),
              firewall::render_pf_fragment(firewall::PfSyntax::freebsd, {}));
}

// --- the real nft parser --------------------------------------------------

std::string find_nft() {
    for (const char* path : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"}) {
        if (::access(path, X_OK) == 0) {
            return path;
        }
    }
    return "";
}

struct CommandResult {
    int status = -1;
    std::string output;
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        return result;
    }
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
        result.output += buffer.data();
    }
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// Why `nft -c` cannot run here, or "" when it can.
std::string nft_unavailable() {
    if (find_nft().empty()) {
        return "nft is not installed (Debian: apt-get install nftables); CI installs it";
    }
    if (::geteuid() != 0) {
        return "nft -c needs root (CAP_NET_ADMIN) to check against the kernel; CI is root";
    }
    return "";
}

// `nft -c` parses and checks the whole transaction against the kernel
// without committing it, so the running ruleset is not touched.
CommandResult nft_check(const std::string& rules) {
    char directory[] = "/tmp/ftpproxy-nft-XXXXXX";
    if (::mkdtemp(directory) == nullptr) {
        return {-1, "mkdtemp failed"};
    }
    const std::string path = std::string(directory) + "/ftpproxy.nft";
    write_file_atomically(path, rules);
    CommandResult result = run(find_nft() + " -c -f " + path);
    std::filesystem::remove_all(directory);
    return result;
}

TEST(FirewallRulesNft, RealNftAcceptsTheGoldenInput) {
    if (const std::string why = nft_unavailable(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Config config = load_file_ok(kGoldenDir + "/rules.yaml");
    const std::string rules = firewall::render_nft_fragment(fragment_instances(config.instances));
    const CommandResult result = nft_check(rules);
    EXPECT_EQ(result.status, 0) << "nft -c -f rejected:\n" << result.output << "\n" << rules;
}

TEST(FirewallRulesNft, RealNftAcceptsTheClusterAndNoInstances) {
    if (const std::string why = nft_unavailable(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Config config = load_file_ok(FTPPROXY_SOURCE_DIR "/examples/cluster-12-carp.yaml");
    for (const std::string& rules :
         {firewall::render_nft_fragment(fragment_instances(config.instances)),
          firewall::render_nft_fragment({})}) {
        const CommandResult result = nft_check(rules);
        EXPECT_EQ(result.status, 0) << "nft -c -f rejected:\n" << result.output << "\n" << rules;
    }
}

TEST(FirewallRulesNft, RealNftRejectsABrokenRule) {
    // Proves that the checks above can fail: the golden input, one word mangled.
    if (const std::string why = nft_unavailable(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    const Config config = load_file_ok(kGoldenDir + "/rules.yaml");
    std::string rules = firewall::render_nft_fragment(fragment_instances(config.instances));
    const auto at = rules.find("redirect to :");
    ASSERT_NE(at, std::string::npos);
    rules.replace(at, std::string_view("redirect to").size(), "redirect too");
    const CommandResult result = nft_check(rules);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("redirect too"), std::string::npos) << result.output;
}

}  // namespace
