// Backend health: the rise/fall state machine (pure), and a check against
// endpoints that are not FTP servers (the checks against real servers are
// in tests/supervisor/test_backends.py).
#include "supervisor/backend_health.hpp"

#include <gtest/gtest.h>

#include "supervisor/health_probe.hpp"

namespace supervisor {
namespace {

using Clock = BackendHealth::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BackendHealth, TheFirstCheckDecidesAtOnce) {
    const auto t0 = Clock::now();
    BackendHealth up(2, 3, t0);
    EXPECT_EQ(up.state(), Health::unknown);
    EXPECT_TRUE(up.record(true, "220 after 1 ms", t0 + seconds(1)));
    EXPECT_EQ(up.state(), Health::up);
    EXPECT_EQ(up.since(), t0 + seconds(1));

    BackendHealth down(2, 3, t0);
    EXPECT_TRUE(down.record(false, "connect: Connection refused", t0));
    EXPECT_EQ(down.state(), Health::down);
    EXPECT_EQ(down.reason(), "connect: Connection refused");
}

TEST(BackendHealth, FallFailuresInARowTakeItDown) {
    const auto t0 = Clock::now();
    BackendHealth health(2, 3, t0);
    health.record(true, "220", t0);
    EXPECT_FALSE(health.record(false, "timeout", t0));
    EXPECT_FALSE(health.record(false, "timeout", t0));
    EXPECT_FALSE(health.record(true, "220", t0));  // a good one starts the count again
    EXPECT_FALSE(health.record(false, "refused 1", t0));
    EXPECT_FALSE(health.record(false, "refused 2", t0));
    EXPECT_EQ(health.state(), Health::up);
    EXPECT_TRUE(health.record(false, "refused 3", t0 + seconds(9)));
    EXPECT_EQ(health.state(), Health::down);
    EXPECT_EQ(health.since(), t0 + seconds(9));
    EXPECT_EQ(health.reason(), "refused 3");
    EXPECT_EQ(health.checks(), 7u);
    EXPECT_EQ(health.failures(), 5u);
}

TEST(BackendHealth, RiseGoodChecksInARowBringItBack) {
    const auto t0 = Clock::now();
    BackendHealth health(2, 1, t0);
    health.record(false, "refused", t0);
    EXPECT_FALSE(health.record(true, "220", t0));
    EXPECT_FALSE(health.record(false, "refused again", t0));
    EXPECT_FALSE(health.record(true, "220", t0));
    EXPECT_TRUE(health.record(true, "220 after 2 ms", t0));
    EXPECT_EQ(health.state(), Health::up);
    EXPECT_EQ(health.last_detail(), "220 after 2 ms");
    EXPECT_EQ(health.reason(), "refused again");  // the last failure stays readable
}

// A port nobody listens on, and a listener that never greets: both fail,
// each saying why; neither takes longer than the check's timeout.
class ProbeTest : public ::testing::Test {
  protected:
    ProbeResult probe(const config::Backend& backend, config::HealthCheck check,
                      std::optional<common::IpAddress> source = std::nullopt) {
        ProbeResult result;
        asio::co_spawn(io_, probe_backend(backend, source, check),
                       [&result](std::exception_ptr error, ProbeResult value) {
                           if (!error) result = std::move(value);
                       });
        io_.run_for(seconds(20));
        return result;
    }
    asio::io_context io_;
};

TEST_F(ProbeTest, NobodyListening) {
    asio::ip::tcp::acceptor closed(io_, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = closed.local_endpoint().port();
    closed.close();
    config::HealthCheck check;
    const ProbeResult result = probe({"127.0.0.1", port}, check);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.detail, "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST_F(ProbeTest, NoGreetingWithinTheTimeout) {
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    config::HealthCheck check;
    check.timeout = milliseconds(300);
    const ProbeResult result = probe({"127.0.0.1", silent.local_endpoint().port()}, check);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.detail, "greeting: no answer within 300 ms");
    ASSERT_TRUE(result.endpoint.has_value());
    EXPECT_EQ(result.endpoint->port(), silent.local_endpoint().port());
}

// A source address this node does not hold (the inside CARP address on a
// backup node): the check runs from the node's own address, and says so.
TEST_F(ProbeTest, ASourceNotOnThisNodeIsSaidSo) {
    asio::ip::tcp::acceptor closed(io_, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = closed.local_endpoint().port();
    closed.close();
    config::HealthCheck check;
    const ProbeResult result =
        probe({"127.0.0.1", port}, check, asio::ip::make_address("198.18.99.99"));
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.detail, "connect 127.0.0.1:" + std::to_string(port) +
                                 " (from this node's own address: source 198.18.99.99 is not on "
                                 "this node): Connection refused");
}

TEST_F(ProbeTest, ASourceOfTheOtherFamilyIsSaidSo) {
    config::HealthCheck check;
    const ProbeResult result = probe({"127.0.0.1", 21}, check, asio::ip::make_address("::1"));
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.detail, "resolve 127.0.0.1: no address of the source's family");
}

}  // namespace
}  // namespace supervisor
