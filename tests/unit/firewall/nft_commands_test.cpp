// The nftables text, without root: the ruleset and element commands against
// golden files.
#include "firewall/nft_commands.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"
#include "kernel_forwardings.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
using test::expect_golden;

TEST(NftCommands, TableNameCarriesInstanceAndPid) {
    EXPECT_EQ("ftpproxy_p8021_4242", nft::table_name("p8021", 4242));
    EXPECT_EQ("ftpproxy_carp_1_4242", nft::table_name("carp-1", 4242));
    EXPECT_THROW(nft::table_name("", 1), Error);
    EXPECT_THROW(nft::table_name(std::string(65, 'x'), 1), Error);
}

TEST(NftCommands, Ruleset) {
    expect_golden("nft_create.nft",
                  nft::create_script("ftpproxy_p8021_4242", "p8021", 4242, false));
}

TEST(NftCommands, RulesetWithLog) {
    expect_golden("nft_create_log.nft",
                  nft::create_script("ftpproxy_p8021_4242", "p8021", 4242, true));
}

// --data-path kernel: the armed set, the translation maps and their rules
// with the mark (0x00465450, "FTP"), for both families.
TEST(NftCommands, RulesetWithKernelDataPath) {
    expect_golden("nft_create_kernel.nft",
                  nft::create_script("ftpproxy_p8021_4242", "p8021", 4242, true, 0x00465450u));
}

// One connection's three elements: armed and translated by the proxy's
// address and port, its source by the translated tuple; -r's port 20 uses
// the map whose value carries a port.
TEST(NftCommands, KernelElements) {
    KernelForwarding f = test::passive_v4_forwarding();
    f.timeout = std::chrono::seconds(5);
    KernelForwarding active = test::active_v6_forwarding();
    std::string text;
    for (const auto* forwarding : {&f, &active})
        for (const nft::Element& e : nft::kernel_elements(*forwarding))
            text += nft::add_command("t", e, forwarding->timeout, forwarding->session);
    expect_golden("nft_kernel_elements.nft", text);
}

TEST(NftCommands, KernelElementsRefuseWhatTheKernelCannotDo) {
    KernelForwarding f;
    f.from = make_address("198.18.1.2");
    f.proxy = make_address("198.18.1.1");
    f.port = 50010;
    f.to = make_address("fd18:2::2");  // another family: no translation between them
    f.to_port = 2121;
    f.source = make_address("198.18.2.1");
    EXPECT_THROW(nft::kernel_elements(f), Error);
    f.to = make_address("198.18.2.2");
    f.source = make_address("0.0.0.0");
    EXPECT_THROW(nft::kernel_elements(f), Error);
    f.source = make_address("198.18.2.1");
    f.to_port = 0;
    EXPECT_THROW(nft::kernel_elements(f), Error);
}

TEST(NftCommands, ElementCommands) {
    PassiveExpectation p;
    p.session = 12;
    p.client = make_address("::ffff:198.18.0.2");
    p.server = make_address("198.19.0.80");
    p.port = 50001;
    p.local_port = 50001;
    p.timeout = std::chrono::seconds(30);
    ActiveExpectation a;
    a.session = 13;
    a.server = make_address("fd18:1::80");
    a.proxy = make_address("fd18:1::1");
    a.port = 50002;
    const OnwardLeg to_client{make_address("::ffff:198.18.0.1"), make_address("198.18.0.2"), 41000,
                              make_address("198.19.0.80"), 20};
    const std::string table = "ftpproxy_p8021_4242";
    const nft::Element passive = nft::passive_element(p);
    const nft::Element active = nft::active_element(a);
    const nft::Element nat = nft::source_nat_element(to_client);
    expect_golden("nft_elements.nft", nft::add_command(table, passive, p.timeout, p.session) +
                                          nft::remove_commands(table, passive) +
                                          nft::add_command(table, active, a.timeout, a.session) +
                                          nft::remove_commands(table, active) +
                                          nft::add_command(table, nat, a.timeout, a.session) +
                                          nft::remove_commands(table, nat));
}

// The source NAT is keyed on the connection's real source: without one (or
// without an address to translate to) there is nothing to key on.
TEST(NftCommands, SourceNatNeedsTheRealSource) {
    OnwardLeg leg{make_address("0.0.0.0"), make_address("198.18.0.2"), 41000,
                  make_address("198.19.0.80"), 0};
    EXPECT_THROW(nft::source_nat_element(leg), Error);
    leg.from = make_address("198.18.0.1");
    leg.nat_to.reset();
    EXPECT_THROW(nft::source_nat_element(leg), Error);
    leg.nat_to = make_address("fd18:1::80");
    EXPECT_THROW(nft::source_nat_element(leg), Error);
}

TEST(NftCommands, ZeroTimeoutBecomesOneSecond) {
    const nft::Element e{"act4", "198.19.0.80 . 198.19.0.1 . 50002", ""};
    EXPECT_EQ(
        "add element inet t act4 { 198.19.0.80 . 198.19.0.1 . 50002 timeout 1s comment \"#1\" }\n",
        nft::add_command("t", e, std::chrono::seconds(0), 1));
}

TEST(NftCommands, MixedFamiliesAreRefused) {
    PassiveExpectation p;
    p.client = make_address("198.18.0.2");
    p.server = make_address("fd18:1::80");
    p.port = p.local_port = 50001;
    EXPECT_THROW(nft::passive_element(p), Error);
}

TEST(NftCommands, InstanceTablesAreFoundInListing) {
    const std::string listing =
        "table inet filter\n"
        "table inet ftpproxy_p8021_100\n"
        "table inet ftpproxy_p8021_1_200\n"  // instance p8021_1, not ours
        "table inet ftpproxy_p80211_300\n"
        "table ip ftpproxy_p8021_400\n"
        "table inet ftpproxy_p8021_500\n";
    const auto found = nft::instance_tables(listing, "p8021");
    ASSERT_EQ(2u, found.size());
    EXPECT_EQ("ftpproxy_p8021_100", found[0].table);
    EXPECT_EQ(100, found[0].pid);
    EXPECT_EQ(500, found[1].pid);
}

}  // namespace
}  // namespace firewall
