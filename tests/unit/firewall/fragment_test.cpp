// The supervisor's pf and nftables fragments, against golden files.
#include <gtest/gtest.h>

#include "firewall/nft_fragment.hpp"
#include "firewall/pf_fragment.hpp"
#include "golden.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
using test::expect_golden;

constexpr PortRange kPassivePorts{49152, 65535};

// The input of the golden files pf-openbsd.conf, pf-freebsd.conf and
// ftpproxy.nft: one instance per kind of rule the generators write. It is
// tests/unit/config/golden/rules.yaml, whose test checks that ftpproxyd
// turns that file into these very instances.
std::vector<FragmentInstance> golden_instances() {
    // IPv4 VIP, worker on loopback: divert-to 127.0.0.1 / dnat + route_localnet.
    FragmentInstance v4_loopback{
        "v4-loopback",
        "v4-loopback (reverse): 198.18.0.1:21 on eth0 -> worker 127.0.0.1:8021 -> server "
        "198.19.0.1:21",
        false,
        make_address("127.0.0.1"),
        8021,
        make_address("198.18.0.1"),
        21,
        "eth0",
        kPassivePorts};
    // Worker on the unspecified address: redirect; no interface.
    FragmentInstance v4_any{
        "v4-any",
        "v4-any (reverse): 198.18.0.2:2121 -> worker 0.0.0.0:8022 -> server ftp.example.org:21",
        false,
        make_address("0.0.0.0"),
        8022,
        make_address("198.18.0.2"),
        2121,
        "",
        kPassivePorts};
    // IPv6 VIP, worker on [::]: redirect (divert-to ::1 on pf).
    FragmentInstance v6_any{
        "v6-any",
        "v6-any (reverse): [2001:db8::21]:21 on eth0 -> worker [::]:8023 -> server "
        "[2001:db8:1::21]:21",
        false,
        make_address("::"),
        8023,
        make_address("2001:db8::21"),
        21,
        "eth0",
        kPassivePorts};
    // Worker on a specific address: dnat to it, both families.
    FragmentInstance v6_addr{
        "v6-addr",
        "v6-addr (reverse): [2001:db8::22]:21 on eth1 -> worker [2001:db8::22]:8024 -> server "
        "[2001:db8:1::22]:21",
        false,
        make_address("2001:db8::22"),
        8024,
        make_address("2001:db8::22"),
        21,
        "eth1",
        kPassivePorts};
    FragmentInstance v4_addr{
        "v4-addr",
        "v4-addr (reverse): 198.18.0.3:21 on eth1 -> worker 198.18.0.3:8025 -> server "
        "198.19.0.3:21",
        false,
        make_address("198.18.0.3"),
        8025,
        make_address("198.18.0.3"),
        21,
        "eth1",
        kPassivePorts};
    // Forward proxy: any destination on the LAN interface.
    FragmentInstance lan_out{"lan-out",
                             "lan-out (forward): any:21 on lan0 -> worker 127.0.0.1:8026 -> the "
                             "server each client asked for",
                             true,
                             make_address("127.0.0.1"),
                             8026,
                             std::nullopt,
                             21,
                             "lan0",
                             kPassivePorts};
    return {v4_loopback, v4_any, v6_any, v6_addr, v4_addr, lan_out};
}

TEST(Fragments, PfOpenbsdGolden) {
    expect_golden("pf-openbsd.conf", render_pf_fragment(PfSyntax::openbsd, golden_instances()));
}

TEST(Fragments, PfFreebsdGolden) {
    expect_golden("pf-freebsd.conf", render_pf_fragment(PfSyntax::freebsd, golden_instances()));
}

TEST(Fragments, NftGolden) {
    expect_golden("ftpproxy.nft", render_nft_fragment(golden_instances()));
}

// What ftpproxyd leaves when it stops: nothing of its table.
TEST(Fragments, NftRemoval) {
    EXPECT_EQ(render_nft_fragment_removal(),
              std::string(kGeneratedNotice) +
                  "\n# ftpproxyd is stopped: its table is removed.\n"
                  "table inet ftpproxy {}\ndelete table inet ftpproxy\n");
}

// The reference's setup: ftp01 on the CARP address 198.18.0.1, no passive ports.
TEST(Fragments, SeedStyleDivertRule) {
    FragmentInstance ftp01;
    ftp01.name = "ftp01";
    ftp01.listen_address = make_address("127.0.0.1");
    ftp01.listen_port = 8021;
    ftp01.public_address = make_address("198.18.0.1");
    ftp01.public_port = 21;
    ftp01.interface = "em0";
    const auto rules = pf_instance_rules(PfSyntax::openbsd, ftp01);
    EXPECT_TRUE(rules.translation.empty());
    EXPECT_EQ(rules.filter,
              (std::vector<std::string>{"pass in on em0 inet proto tcp from any to 198.18.0.1 "
                                        "port 21 flags S/SA keep state divert-to 127.0.0.1 port "
                                        "8021"}));
    const auto freebsd = pf_instance_rules(PfSyntax::freebsd, ftp01);
    EXPECT_EQ(freebsd.translation,
              (std::vector<std::string>{
                  "rdr pass on em0 inet proto tcp from any to 198.18.0.1 port 21 -> 127.0.0.1 "
                  "port 8021"}));
    EXPECT_TRUE(freebsd.filter.empty());
}

// Only possible with firewall: none, e.g. examples/demo.yaml: reverse
// instances on 127.0.0.1 without a public address. A forward instance
// without an interface has no rule either.
TEST(Fragments, InstancesWithoutPublicAddressGetNoRule) {
    FragmentInstance demo;
    demo.name = "demo-a";
    demo.listen_address = make_address("127.0.0.1");
    demo.listen_port = 8021;
    demo.public_port = 21;
    demo.passive_ports = PortRange{50000, 50099};
    FragmentInstance forward = demo;
    forward.forward = true;
    for (const FragmentInstance& instance : {demo, forward}) {
        EXPECT_FALSE(has_fragment_rules(instance));
        EXPECT_TRUE(nft_instance_rules(instance).empty());
        EXPECT_EQ(pf_instance_rules(PfSyntax::openbsd, instance), PfInstanceRules{});
    }
}

}  // namespace
}  // namespace firewall
