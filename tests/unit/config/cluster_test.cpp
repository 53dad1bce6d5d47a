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
    EXPECT_EQ(load_ok("cluster: {demotion: keepalived, track_file: /run/k/t}\ninstances: []\n")
                  .cluster,
              (ClusterSettings{Demotion::keepalived, "/run/k/t", "carp", 50, {}, {}}));
    EXPECT_EQ(load_ok("cluster: {demotion: openbsd-carp, carp_group: vips, demote_by: 32}\n"
                      "instances: []\n")
                  .cluster,
              (ClusterSettings{Demotion::openbsd_carp, "/run/ftpproxyd/vrrp-track", "vips", 32,
                               {}, {}}));
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
                  "carp_group, demote_by, demote_command or promote_command)"}));
    EXPECT_EQ(load_errors("cluster: {demotion: command, demote_command: [/bin/x]}\n"
                          "instances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:10: 'demotion: command' needs 'promote_command' (a list: program "
                  "and arguments, no shell)"}));
    EXPECT_EQ(load_errors("cluster: {demotion: freebsd-carp, demote_by: 0}\ninstances: []\n"),
              (std::vector<std::string>{
                  "test.yaml:1:46: 'demote_by': \"0\" is not a number in 1..1000"}));
}

}  // namespace
