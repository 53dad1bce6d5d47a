// The session handoff's plan (which peer, on which link, for each VIP) and
// the exact nftables text and `ip` commands it becomes.
#include "supervisor/handoff_plan.hpp"

#include <gtest/gtest.h>

namespace supervisor::handoff {
namespace {

common::IpAddress ip(const char* text) {
    return *common::parse_ip_address(text);
}

const std::vector<common::IpAddress> kNodes = {ip("198.18.11.11"), ip("198.18.11.12")};
const std::vector<SharedAddress> kVip = {{ip("198.18.11.1"), {21}}};

// fw1 holding the VIP (keepalived adds it with the LAN's prefix).
const std::vector<LocalAddress> kFw1 = {{"lo", ip("127.0.0.1"), 8},
                                        {"lan", ip("198.18.11.11"), 24},
                                        {"lan", ip("198.18.11.1"), 24},
                                        {"wan", ip("198.18.12.11"), 24}};

TEST(HandoffPlan, ThePeerOnTheVipsLink) {
    const Plan plan = make_plan(kNodes, kVip, kFw1);
    ASSERT_EQ(plan.error, "");
    EXPECT_EQ(plan.self, std::vector<common::IpAddress>{ip("198.18.11.11")});
    ASSERT_EQ(plan.routes.size(), 1u);
    EXPECT_EQ(describe(plan.routes[0]), "198.18.11.1 -> 198.18.11.12 (lan)");
    // The same file on fw2 names fw1.
    const Plan other = make_plan(kNodes, kVip, {{"lan", ip("198.18.11.12"), 24}});
    ASSERT_EQ(other.error, "");
    EXPECT_EQ(describe(other.routes[0]), "198.18.11.1 -> 198.18.11.11 (lan)");
}

TEST(HandoffPlan, EachVipOnItsOwnLinkAndFamily) {
    const std::vector<common::IpAddress> nodes = {ip("198.18.11.11"), ip("198.18.11.12"),
                                                  ip("fd18:11::11"), ip("fd18:11::12")};
    const std::vector<SharedAddress> vips = {{ip("198.18.11.1"), {21}},
                                             {ip("fd18:11::1"), {21, 2121}}};
    const Plan plan =
        make_plan(nodes, vips, {{"lan", ip("198.18.11.12"), 24}, {"lan6", ip("fd18:11::12"), 64}});
    ASSERT_EQ(plan.error, "");
    EXPECT_EQ(plan.self, (std::vector<common::IpAddress>{ip("198.18.11.12"), ip("fd18:11::12")}));
    ASSERT_EQ(plan.routes.size(), 2u);
    EXPECT_EQ(describe(plan.routes[0]), "198.18.11.1 -> 198.18.11.11 (lan)");
    EXPECT_EQ(describe(plan.routes[1]), "fd18:11::1 -> fd18:11::11 (lan6)");
    const std::string v6 = nft_script(plan, false);
    EXPECT_NE(v6.find("table ip6 ftpproxy_handoff {\n"), std::string::npos) << v6;
    EXPECT_NE(v6.find("elements = { fd18:11::1 . 21, fd18:11::1 . 2121 }"), std::string::npos)
        << v6;
    EXPECT_NE(v6.find("ip6 daddr fd18:11::1 dup to fd18:11::11 device \"lan6\"\n"),
              std::string::npos)
        << v6;
    EXPECT_EQ(nft_script(plan, true).find("fd18"), std::string::npos);
    EXPECT_EQ(ip_install_commands(plan).size(), 4u);  // rule and route, per family
}

TEST(HandoffPlan, WhatCannotBePlannedIsSaid) {
    EXPECT_EQ(make_plan(kNodes, kVip, {{"lan", ip("198.18.11.13"), 24}}).error,
              "none of cluster.handoff.nodes (198.18.11.11, 198.18.11.12) is an address of this "
              "node");
    // The peer's address is on another link than the VIP.
    EXPECT_EQ(make_plan({ip("198.18.11.11"), ip("198.18.13.12")}, kVip, kFw1).error,
              "no other of cluster.handoff.nodes (198.18.11.11, 198.18.13.12) is on "
              "198.18.11.1's link (198.18.11.11/24, interface lan): exactly one peer is needed "
              "there");
    EXPECT_EQ(
        make_plan({ip("198.18.11.11"), ip("198.18.11.12"), ip("198.18.11.13")}, kVip, kFw1).error,
        "more than one other of cluster.handoff.nodes (198.18.11.11, 198.18.11.12, "
        "198.18.11.13) is on 198.18.11.1's link (198.18.11.11/24, interface lan): exactly "
        "one peer is needed there");
    // The only address in the VIP's subnet is the VIP itself: no link.
    EXPECT_EQ(make_plan({ip("198.18.12.11"), ip("198.18.12.12")}, kVip,
                        {{"wan", ip("198.18.12.11"), 24}, {"lan", ip("198.18.11.1"), 24}})
                  .error,
              "no interface of this node has an address in the subnet of 198.18.11.1: the peer "
              "could not be reached on its link");
}

TEST(HandoffPlan, NftablesText) {
    const Plan plan = make_plan(kNodes, kVip, kFw1);
    EXPECT_EQ(nft_script(plan, false), "");  // no IPv6 VIP
    EXPECT_EQ(nft_script(plan, true),
              "table ip ftpproxy_handoff {}\n"
              "delete table ip ftpproxy_handoff\n"
              "table ip ftpproxy_handoff {\n"
              "    set shared {\n"
              "        type ipv4_addr\n"
              "        elements = { 198.18.11.1 }\n"
              "    }\n"
              "    set control {\n"
              "        type ipv4_addr . inet_service\n"
              "        elements = { 198.18.11.1 . 21 }\n"
              "    }\n"
              "    chain prerouting {\n"
              "        type filter hook prerouting priority mangle; policy accept;\n"
              "        meta l4proto != tcp return\n"
              "        ip daddr != @shared return\n"
              "        fib daddr type local goto holder\n"
              "        ip daddr . tcp dport @control tcp flags & (syn | ack) == syn return\n"
              "        meta mark set 0x46500001\n"
              "    }\n"
              "    chain holder {\n"
              "        tcp flags & (syn | ack) != syn ct state new goto to_peer\n"
              "        socket transparent 0 return\n"
              "        socket transparent 1 return\n"
              "        goto to_peer\n"
              "    }\n"
              "    chain to_peer {\n"
              "        ip daddr 198.18.11.1 dup to 198.18.11.12 device \"lan\"\n"
              "        drop\n"
              "    }\n"
              "}\n");
    EXPECT_EQ(nft_remove_script(),
              "table ip ftpproxy_handoff {}\ndelete table ip ftpproxy_handoff\n"
              "table ip6 ftpproxy_handoff {}\ndelete table ip6 ftpproxy_handoff\n");
}

TEST(HandoffPlan, IpCommands) {
    const Plan plan = make_plan(kNodes, kVip, kFw1);
    EXPECT_EQ(ip_install_commands(plan), (std::vector<std::vector<std::string>>{
                                             {"/sbin/ip", "-4", "rule", "add", "pref", "4650",
                                              "fwmark", "0x46500001", "lookup", "4650"},
                                             {"/sbin/ip", "-4", "route", "replace", "local",
                                              "0.0.0.0/0", "dev", "lo", "table", "4650"}}));
    EXPECT_EQ(ip_remove_commands(false),
              (std::vector<std::vector<std::string>>{
                  {"/sbin/ip", "-6", "rule", "del", "pref", "4650"},
                  {"/sbin/ip", "-6", "route", "flush", "table", "4650"}}));
}

}  // namespace
}  // namespace supervisor::handoff
