// The nftables backend for real, in a namespace of its own: what `nft list
// table` shows after each call, expiry, stale-table handling, and the cost
// of one data connection's expectation.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "firewall/nft_element_writer.hpp"
#include "firewall/nftables_backend.hpp"
#include "kernel_forwardings.hpp"
#include "netns.hpp"
#include "outcome.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
using test::InNetns;
using test::Netns;
using Clock = std::chrono::steady_clock;

constexpr const char* kInstance = "ptest";

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

PassiveExpectation passive(std::uint64_t session, std::uint16_t port) {
    PassiveExpectation e;
    e.session = session;
    e.client = make_address("198.18.0.2");
    e.server = make_address("198.19.0.80");
    e.port = port;
    e.proxy = make_address("198.18.0.1");
    e.local_port = port;
    return e;
}

ActiveExpectation active_v6(std::uint64_t session) {
    ActiveExpectation e;
    e.session = session;
    e.server = make_address("fd18:1::80");
    e.proxy = make_address("fd18:1::1");
    e.port = 50002;
    return e;
}

class NftablesNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces and nftables";
        netns_ = std::make_unique<Netns>("ftpx-fw");
        inside_ = std::make_unique<InNetns>(*netns_);
    }
    void TearDown() override {
        backend_.reset();  // its table goes while we are still inside
        inside_.reset();
        netns_.reset();
    }

    NftablesBackend& make_backend(pid_t pid = ::getpid(), RuleOptions options = {}) {
        backend_ = std::make_unique<NftablesBackend>(options, kInstance, pid);
        return *backend_;
    }
    std::string table(const std::string& name) const {
        return netns_->exec("nft list table inet " + name);
    }
    std::string tables() const { return netns_->exec("nft list tables"); }

    std::unique_ptr<Netns> netns_;
    std::unique_ptr<InNetns> inside_;
    std::unique_ptr<NftablesBackend> backend_;
};

TEST_F(NftablesNetns, InitCreatesTheTableAndShutdownRemovesIt) {
    NftablesBackend& backend = make_backend();
    backend.init();
    const std::string listing = table(backend.table());
    EXPECT_TRUE(contains(listing, "map pasv4")) << listing;
    EXPECT_TRUE(contains(listing, "type nat hook prerouting priority dstnat - 10")) << listing;
    EXPECT_TRUE(contains(listing, "redirect to :ip saddr . ip daddr . tcp dport map @pasv4"));
    backend.shutdown();
    EXPECT_FALSE(contains(tables(), backend.table())) << tables();
    backend.shutdown();  // twice is harmless
}

TEST_F(NftablesNetns, ElementsAppearAndClearSessionRemovesThem) {
    NftablesBackend& backend = make_backend();
    backend.init();
    backend.expect_passive(passive(1, 50001), test::kOk);
    backend.expect_active(active_v6(2), test::kOk);
    std::string listing = table(backend.table());
    EXPECT_TRUE(contains(listing, "198.18.0.2 . 198.19.0.80 . 50001 timeout 30s expires"))
        << listing;
    EXPECT_TRUE(contains(listing, "comment \"#1\" : 50001")) << listing;
    EXPECT_TRUE(contains(listing, "fd18:1::80 . fd18:1::1 . 50002 timeout 30s expires")) << listing;
    backend.clear_session(1);
    listing = table(backend.table());
    EXPECT_FALSE(contains(listing, "198.18.0.2")) << listing;
    EXPECT_TRUE(contains(listing, "fd18:1::80")) << listing;
    backend.clear_session(2);
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
}

// Active mode: the server's connection is let in until it arrives; the
// source NAT of the proxy's connection to the client, which follows the
// arrival, stays until the session's next negotiation or end.
TEST_F(NftablesNetns, ArrivalKeepsTheSourceNatUntilTheSessionEnds) {
    NftablesBackend& backend = make_backend();
    backend.init();
    ActiveExpectation e = active_v6(3);
    e.onward = OnwardLeg{make_address("fd18::1"), make_address("fd18::2"), 41000,
                         make_address("fd18:1::80"), 0};
    backend.expect_active(e, test::kOk);
    std::string listing = table(backend.table());
    EXPECT_TRUE(contains(listing, "fd18:1::80 . fd18:1::1 . 50002 timeout 30s expires")) << listing;
    EXPECT_TRUE(contains(listing, "fd18::1 . fd18::2 . 41000 timeout 30s expires")) << listing;
    EXPECT_TRUE(contains(listing, "comment \"#3\" : fd18:1::80")) << listing;
    backend.connection_arrived(3);
    listing = table(backend.table());
    EXPECT_FALSE(contains(listing, ". 50002")) << listing;
    EXPECT_TRUE(contains(listing, "fd18::1 . fd18::2 . 41000")) << listing;
    backend.connection_arrived(3);  // twice is harmless
    backend.clear_session(3);
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
    // Without an onward leg, the arrival leaves nothing.
    backend.expect_passive(passive(4, 50001), test::kOk);
    backend.connection_arrived(4);
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
    // --passive-to-server: only the source NAT; a leg without nat_to adds
    // nothing and removes the session's previous element.
    backend.expect_onward({5, *e.onward, std::chrono::seconds(30)}, test::kOk);
    EXPECT_TRUE(contains(table(backend.table()), "comment \"#5\" : fd18:1::80"))
        << table(backend.table());
    OnwardLeg plain = *e.onward;
    plain.nat_to.reset();
    backend.expect_onward({5, plain, std::chrono::seconds(30)}, test::kOk);
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
}

TEST_F(NftablesNetns, NewExpectationReplacesTheSessionsPrevious) {
    NftablesBackend& backend = make_backend();
    backend.init();
    backend.expect_passive(passive(1, 50001), test::kOk);
    backend.expect_passive(passive(1, 50003), test::kOk);
    backend.expect_passive(passive(2, 50005), test::kOk);
    const std::string listing = table(backend.table());
    EXPECT_FALSE(contains(listing, ". 50001")) << listing;
    EXPECT_TRUE(contains(listing, ". 50003")) << listing;
    EXPECT_TRUE(contains(listing, ". 50005")) << listing;
}

TEST_F(NftablesNetns, FailedNegotiationLeavesNoExpectation) {
    NftablesBackend& backend = make_backend();
    backend.init();
    backend.expect_passive(passive(1, 50001), test::kOk);
    PassiveExpectation mixed = passive(1, 50003);
    mixed.server = make_address("fd18:1::80");
    std::string outcome;
    backend.expect_passive(mixed, test::record(outcome));
    EXPECT_NE(outcome, "ok");
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
}

TEST_F(NftablesNetns, ElementsExpireAndClearingAnExpiredOneIsHarmless) {
    NftablesBackend& backend = make_backend();
    backend.init();
    PassiveExpectation e = passive(1, 50001);
    e.timeout = std::chrono::seconds(1);
    backend.expect_passive(e, test::kOk);
    ASSERT_TRUE(contains(table(backend.table()), ". 50001"));
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (contains(table(backend.table()), ". 50001") && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(contains(table(backend.table()), ". 50001")) << "did not expire within 5 s";
    backend.clear_session(1);  // the element is gone already: must not disturb anything
    backend.expect_passive(passive(1, 50007), test::kOk);
    EXPECT_TRUE(contains(table(backend.table()), ". 50007"));
}

// A stale table of our own pid is replaced, one of a dead worker of the same
// instance deleted; a live worker's, another instance's and the user's own
// tables stay as they were.
TEST_F(NftablesNetns, InitReplacesStaleStateAndTouchesNothingElse) {
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const pid_t live = ::fork();  // same program name: looks like a live worker
    if (live == 0) {
        ::pause();
        ::_exit(0);
    }
    const std::string own = "ftpproxy_ptest_" + std::to_string(::getpid());
    const std::string gone = "ftpproxy_ptest_" + std::to_string(dead);
    const std::string alive = "ftpproxy_ptest_" + std::to_string(live);
    ASSERT_EQ(0, netns_->run("nft add table inet " + own + " && nft add chain inet " + own +
                             " leftover && nft add table inet " + gone + " && nft add table inet " +
                             alive +
                             " && nft add table inet ftpproxy_other_1 && nft add table "
                             "inet filter && nft add chain inet filter input \"{ type filter hook "
                             "input priority 0; policy accept; }\" && nft add rule inet filter "
                             "input tcp dport 22 accept"));
    const std::string user_table = table("filter");

    NftablesBackend& backend = make_backend();
    backend.init();
    ::kill(live, SIGKILL);
    ::waitpid(live, nullptr, 0);
    const std::string listing = tables();
    EXPECT_FALSE(contains(table(own), "leftover")) << table(own);
    EXPECT_TRUE(contains(table(own), "map pasv4"));
    EXPECT_FALSE(contains(listing, gone)) << listing;
    EXPECT_TRUE(contains(listing, alive)) << listing;
    EXPECT_TRUE(contains(listing, "ftpproxy_other_1")) << listing;
    EXPECT_EQ(user_table, table("filter"));
    backend.shutdown();
    EXPECT_FALSE(contains(tables(), own));
    EXPECT_EQ(user_table, table("filter"));
}

TEST_F(NftablesNetns, VerboseLogsExpectedConnections) {
    RuleOptions options;
    options.log = 1;
    NftablesBackend& backend = make_backend(::getpid(), options);
    backend.init();
    EXPECT_TRUE(
        contains(table(backend.table()), "log prefix \"" + backend.table() + " passive: \""));
}

// --data-path kernel: the three elements of one forwarded connection, as the
// binary batch wrote them (nft reads them back as the golden text says);
// once used, the translations go with the next transaction of any session.
TEST_F(NftablesNetns, KernelElementsAndTheirRemovalAfterUse) {
    RuleOptions options;
    options.kernel_mark = 0x00465450;
    NftablesBackend& backend = make_backend(::getpid(), options);
    backend.init();
    backend.forward_in_kernel(test::passive_v4_forwarding(), test::kOk);
    KernelForwarding v6 = test::active_v6_forwarding();
    v6.session = 8;
    backend.forward_in_kernel(v6, test::kOk);
    std::string listing = table(backend.table());
    EXPECT_TRUE(contains(listing, "198.18.1.2 . 198.18.1.1 . 50010 timeout 30s expires"))
        << listing;
    EXPECT_TRUE(contains(listing, "comment \"#7\" : 198.18.2.2 . 2121")) << listing;
    EXPECT_TRUE(contains(listing, "198.18.1.2 . 198.18.2.2 . 2121 timeout 30s expires")) << listing;
    EXPECT_TRUE(contains(listing, "comment \"#7\" : 198.18.2.1")) << listing;
    EXPECT_TRUE(contains(listing, "comment \"#8\" : fd18:1::2 . 41000")) << listing;
    EXPECT_TRUE(contains(listing, "comment \"#8\" : fd18:1::1 . 20")) << listing;
    // Used (here no packet deleted the armed element: it stays to its
    // timeout); nothing is written until another session's transaction.
    backend.connection_arrived(7);
    EXPECT_TRUE(contains(table(backend.table()), "198.18.2.2 . 2121")) << table(backend.table());
    backend.clear_session(8);
    listing = table(backend.table());
    EXPECT_FALSE(contains(listing, "198.18.2.2 . 2121")) << listing;
    EXPECT_FALSE(contains(listing, "198.18.2.1")) << listing;
    EXPECT_FALSE(contains(listing, "fd18:1::2")) << listing;
    EXPECT_TRUE(contains(listing, "198.18.1.2 . 198.18.1.1 . 50010")) << listing;  // karm4
}

// The kernel's refusal names the change, and nothing of the batch is left.
TEST_F(NftablesNetns, ARefusedBatchNamesItsChangeAndLeavesNothing) {
    NftablesBackend& backend = make_backend();
    backend.init();
    nft::ElementWriter writer(backend.table());
    nft::ElementBatch batch;
    batch.add({"act4", "198.18.0.2 . 198.18.0.3 . 2000", {}}, std::chrono::seconds(30), 9);
    batch.erase({"act4", "198.18.0.2 . 198.18.0.3 . 21", {}});
    try {
        writer.apply(batch);
        ADD_FAILURE() << "a delete of a missing element was accepted";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "delete element from act4 { 198.18.0.2 . 198.18.0.3 . 21 }: No such file or "
                     "directory");
    }
    EXPECT_FALSE(contains(table(backend.table()), "elements")) << table(backend.table());
    nft::ElementBatch wrong;
    wrong.add({"nosuch4", "198.18.0.2 . 198.18.0.3 . 2000", {}}, std::chrono::seconds(30), 9);
    EXPECT_THROW(writer.apply(wrong), Error);
    // A batch that is accepted after refused ones: the socket holds no
    // stale answer that would be taken for this batch's.
    nft::ElementBatch ok;
    ok.add({"act4", "198.18.0.2 . 198.18.0.3 . 2001", {}}, std::chrono::seconds(30), 9);
    writer.apply(ok);
    EXPECT_TRUE(contains(table(backend.table()), "198.18.0.2 . 198.18.0.3 . 2001"))
        << table(backend.table());
}

// What one data connection costs the worker: expect_passive() when the
// 227 goes out, clear_session() when the connection arrives; alone, and
// with many other sessions' elements live (libnftables must not list the
// set per call). Recorded in docs/forward-proxy.md.
std::chrono::microseconds cost_per_connection(NftablesBackend& backend, int iterations,
                                              std::uint64_t first_session) {
    Clock::duration expecting{}, clearing{};
    for (int i = 0; i < iterations; ++i) {
        const std::uint64_t session = first_session + static_cast<std::uint64_t>(i);
        const auto start = Clock::now();
        backend.expect_passive(passive(session, static_cast<std::uint16_t>(50000 + i % 10000)),
                               test::kOk);
        const auto added = Clock::now();
        backend.clear_session(session);
        clearing += Clock::now() - added;
        expecting += added - start;
    }
    const auto us = [&](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::microseconds>(d) / iterations;
    };
    std::cout << "nftables cost per data connection over " << iterations
              << " iterations: expect_passive " << us(expecting).count() << " us, clear_session "
              << us(clearing).count() << " us\n";
    return us(expecting + clearing);
}

TEST_F(NftablesNetns, CostPerDataConnection) {
    NftablesBackend& backend = make_backend();
    backend.init();
    const auto alone = cost_per_connection(backend, 1000, 0);
    RecordProperty("cost_us", std::to_string(alone.count()));
    EXPECT_FALSE(contains(table(backend.table()), "elements"));
    // Generous: a regression to a fork per call or a full set dump shows.
    EXPECT_LT(alone.count(), 20000);

    for (std::uint64_t session = 100000; session < 102000; ++session) {
        PassiveExpectation other = passive(session, static_cast<std::uint16_t>(session - 90000));
        other.client = make_address("198.18.7." + std::to_string(session % 200 + 1));
        backend.expect_passive(other, test::kOk);
    }
    const auto busy = cost_per_connection(backend, 200, 0);
    std::cout << "  (with 2000 other sessions' elements live)\n";
    RecordProperty("cost_busy_us", std::to_string(busy.count()));
    EXPECT_LT(busy.count(), 20000);
}

}  // namespace
}  // namespace firewall
