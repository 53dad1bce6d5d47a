// pf rule text per negotiation, against golden files.
#include "firewall/pf_rules.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
using test::expect_golden;

PassiveExpectation passive_v4() {
    PassiveExpectation e;
    e.session = 7;
    e.client = make_address("198.18.0.2");
    e.server = make_address("198.19.0.80");
    e.port = 50001;
    e.proxy = make_address("198.18.0.1");
    e.local_port = 50001;
    return e;
}

ActiveExpectation active_v4() {
    ActiveExpectation e;
    e.session = 8;
    e.server = make_address("198.19.0.80");
    e.proxy = make_address("198.19.0.1");
    e.port = 50002;
    return e;
}

TEST(PfRules, AnchorIsTheReferencesName) {
    EXPECT_EQ("ftp-proxy/4242.7", pf::anchor_name(4242, 7));
}

TEST(PfRules, PassiveIpv4) {
    expect_golden("pf_passive_v4.txt", pf::passive_rules(passive_v4(), {}));
}

TEST(PfRules, PassiveIpv6TagQueueLogAllAndOnwardLeg) {
    PassiveExpectation e;
    e.session = 9;
    e.client = make_address("fd18::2");
    e.server = make_address("fd18:1::80");
    e.port = 50003;
    e.proxy = make_address("fd18::1");
    e.local_port = 50003;
    const OnwardLeg onward{make_address("fd18:1::1"), make_address("fd18:1::80"), 40123, {}, 0};
    const RuleOptions options{"ftpq", "FTPDATA", 2, {}};
    expect_golden("pf_passive_v6_tag_queue_logall.txt",
                  pf::passive_rules(e, options) + pf::onward_rule(onward, options));
}

// After divert-to, the control connection's local address is the server's
// own: the data listener is then reached on loopback, never at the server.
TEST(PfRules, PassiveAfterDivertToRedirectsToLoopback) {
    PassiveExpectation e = passive_v4();
    e.proxy = e.server;
    expect_golden("pf_passive_v4_diverted.txt", pf::passive_rules(e, {}));
}

TEST(PfRules, ActiveIpv4LogAndOnwardLeg) {
    ActiveExpectation e = active_v4();
    e.onward = OnwardLeg{{}, make_address("198.18.0.2"), 41000, {}, 0};
    RuleOptions options;
    options.log = 1;
    expect_golden("pf_active_v4_log.txt", pf::active_rules(e, options));
}

// Forward mode's active data connection to the client carries the
// server's address, as the reference's `nat-to`; with -r its port 20.
TEST(PfRules, ActiveNatToTheServer) {
    ActiveExpectation e = active_v4();
    e.onward = OnwardLeg{make_address("198.18.0.1"), make_address("198.18.0.2"), 41000,
                         make_address("198.19.0.80"), 0};
    ActiveExpectation v6;
    v6.session = 9;
    v6.server = make_address("fd18:1::80");
    v6.proxy = make_address("fd18:1::1");
    v6.port = 50004;
    v6.onward = OnwardLeg{make_address("fd18::1"), make_address("fd18::2"), 41001,
                          make_address("fd18:1::80"), 20};
    expect_golden("pf_active_nat.txt", pf::active_rules(e, {}) +
                                           pf::active_rules(v6, RuleOptions{{}, "FTPDATA", 0, {}}) +
                                           pf::onward_rule(*e.onward, {}));
}

TEST(PfRules, Ipv4MappedAddressesAreWrittenAsIpv4) {
    PassiveExpectation e = passive_v4();
    e.client = make_address("::ffff:198.18.0.2");
    EXPECT_EQ(pf::passive_rules(passive_v4(), {}), pf::passive_rules(e, {}));
}

TEST(PfRules, MixedFamiliesAndZeroPortsAreRefused) {
    PassiveExpectation e = passive_v4();
    e.server = make_address("fd18:1::80");
    EXPECT_THROW(pf::passive_rules(e, {}), Error);
    e = passive_v4();
    e.port = 0;
    EXPECT_THROW(pf::passive_rules(e, {}), Error);
    ActiveExpectation a = active_v4();
    a.proxy = make_address("fd18:1::1");
    EXPECT_THROW(pf::active_rules(a, {}), Error);
}

TEST(PfRules, SessionAnchorsAreFoundInPfctlListing) {
    const auto found =
        pf::session_anchors("  ftp-proxy\n  ftp-proxy/25552.5\n  ftp-proxy/77.12\n  other/1.2\n");
    ASSERT_EQ(2u, found.size());
    EXPECT_EQ("ftp-proxy/25552.5", found[0].anchor);
    EXPECT_EQ(25552, found[0].pid);
    EXPECT_EQ("ftp-proxy/77.12", found[1].anchor);
    EXPECT_EQ(77, found[1].pid);
}

}  // namespace
}  // namespace firewall
