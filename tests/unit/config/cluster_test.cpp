// The 'cluster' section: each demotion method, its defaults, and the
// mistakes worth naming (a key of another method does nothing).
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using namespace config;
using config_test::load_errors;
using config_test::load_ok;

TEST(ConfigCluster, NoneByDefault) {
    const Config config = load_ok("instances: []\n");
    EXPECT_EQ(config.cluster.demotion, Demotion::none);
    EXPECT_EQ(config.cluster.track_file, "/run/ftpproxyd/vrrp-track");
    EXPECT_EQ(config.cluster.carp_group, "carp");
    EXPECT_EQ(config.cluster.demote_by, 50);
}

TEST(ConfigCluster, EachMethod) {
    EXPECT_EQ(
        load_ok("cluster: {demotion: keepalived, track_file: /run/k/t}\ninstances: []\n").cluster,
        (ClusterSettings{Demotion::keepalived, "/run/k/t", "carp", 50, {}, {}, {}}));
    EXPECT_EQ(load_ok("cluster: {demotion: openbsd-carp, carp_group: vips, demote_by: 32}\n"
                      "instances: []\n")
                  .cluster,
              (ClusterSettings{
                  Demotion::openbsd_carp, "/run/ftpproxyd/vrrp-track", "vips", 32, {}, {}, {}}));
    EXPECT_EQ(load_ok("cluster: {demotion: freebsd-carp}\ninstances: []\n").cluster.demotion,
              Demotion::freebsd_carp);
    const Config command = load_ok(
        "cluster:\n  demotion: command\n  demote_command: [/usr/local/bin/vip, down]\n"
        "  promote_command: [/usr/local/bin/vip, up]\ninstances: []\n");
    EXPECT_EQ(command.cluster.demote_command,
              (std::vector<std::string>{"/usr/local/bin/vip", "down"}));
    EXPECT_EQ(command.cluster.promote_command,
              (std::vector<std::string>{"/usr/local/bin/vip", "up"}));
}

TEST(ConfigCluster, Errors) {
    EXPECT_EQ(load_errors("cluster: {demotion: vrrp}\ninstances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:21: 'demotion': \"vrrp\" is not one of none, keepalived, "
                  "openbsd-carp, freebsd-carp or command"}));
    EXPECT_EQ(load_errors("cluster: {demotion: openbsd-carp, track_file: /run/t, colour: x}\n"
                          "instances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:35: 'track_file' has no effect with 'demotion: openbsd-carp'",
                  "test.yaml:1:55: unknown key 'colour' (known keys: demotion, track_file, "
                  "carp_group, demote_by, demote_command, promote_command or handoff)"}));
    EXPECT_EQ(load_errors("cluster: {demotion: command, demote_command: [/bin/x]}\n"
                          "instances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:10: 'demotion: command' needs 'promote_command' (a list: program "
                  "and arguments, no shell)"}));
    EXPECT_EQ(load_errors("cluster: {demotion: freebsd-carp, demote_by: 0}\ninstances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:46: 'demote_by': \"0\" is not a number in 1..1000"}));
}

constexpr const char* kVipInstance =
    "instances:\n  - {name: ftp01, listen: 198.18.11.1:21, backend: 198.18.12.21:21}\n";

TEST(ConfigCluster, HandoffNodes) {
    const Config config = load_ok(
        std::string("cluster:\n  handoff: {nodes: [198.18.11.11, 'fd18::12']}\n") + kVipInstance);
    EXPECT_EQ(config.cluster.handoff_nodes,
              (std::vector<common::IpAddress>{*common::parse_ip_address("198.18.11.11"),
                                              *common::parse_ip_address("fd18::12")}));
    EXPECT_TRUE(load_ok(kVipInstance).cluster.handoff_nodes.empty());
    // Any demotion method, or none: the handoff is about the move, not its cause.
    EXPECT_EQ(
        load_ok(std::string("cluster:\n  demotion: keepalived\n  handoff: {nodes: [198.18.11.11, "
                            "198.18.11.12]}\n") +
                kVipInstance)
            .cluster.handoff_nodes.size(),
        2u);
}

TEST(ConfigCluster, HandoffErrors) {
    const std::string instance = kVipInstance;
    EXPECT_EQ(load_errors("cluster:\n  handoff: [198.18.11.11]\n" + instance),
              (std::vector<std::string>{
                  "test.yaml:2:12: 'handoff': a map with 'nodes' (each node's own address)"}));
    EXPECT_EQ(load_errors("cluster:\n  handoff: {nodes: [198.18.11.11]}\n" + instance),
              (std::vector<std::string>{"test.yaml:2:20: 'nodes': a list of 2..8 IP addresses, "
                                        "each node's own on the VIPs' link"}));
    EXPECT_EQ(
        load_errors("cluster:\n  handoff: {nodes: [198.18.11.11, 198.18.11.11]}\n" + instance),
        (std::vector<std::string>{"test.yaml:2:35: 'nodes': 198.18.11.11 is listed twice"}));
    EXPECT_EQ(load_errors("cluster:\n  handoff: {nodes: [198.18.11.11, fw2]}\n" + instance).size(),
              1u);
    EXPECT_EQ(
        load_errors("cluster:\n  handoff: {peers: [198.18.11.11, 198.18.11.12]}\n" + instance),
        (std::vector<std::string>{"test.yaml:2:12: 'handoff' needs 'nodes'",
                                  "test.yaml:2:13: unknown key 'peers' (known keys: nodes)"}));
}

// The handoff keeps the client's side only: a `source` (a VIP in a shared
// file) would break the server's side; forward instances are not handed off.
TEST(ConfigCluster, HandoffNeedsASharedReverseListenerAndNoSource) {
    const std::string handoff = "cluster:\n  handoff: {nodes: [198.18.11.11, 198.18.11.12]}\n";
    EXPECT_EQ(
        load_errors(handoff + "instances:\n  - {name: ftp01, listen: 198.18.11.1:21, backend: "
                              "198.18.12.21:21, source: 198.18.12.1}\n"),
        (std::vector<std::string>{
            "test.yaml:4:77: instance 'ftp01': 'source' with cluster.handoff: the "
            "server's side of a session would break when the address moves; leave "
            "'source' out (each node then uses its own address toward the server)"}));
    EXPECT_EQ(load_errors(handoff + "instances:\n  - {name: fwd, mode: forward, listen: "
                                    "127.0.0.1:8021}\n"),
              (std::vector<std::string>{
                  "test.yaml:2:3: cluster.handoff: no reverse instance listens on a shared "
                  "address (a VIP); forward-mode sessions are not handed off"}));
}

}  // namespace
