// ConntrackFlows' bookkeeping, fed conntrack events by hand (seen(), as the
// event callback does): which watch an event belongs to, when a connection
// starts and ends, and how. The sockets are real (root: ctnetlink); no
// connection is made.
#include "firewall/conntrack_flows.hpp"

#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include <memory>
#include <vector>

namespace firewall {
namespace {

using boost::asio::ip::make_address;

class ConntrackFlowsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        try {
            flows_ = std::make_unique<ConntrackFlows>(io_, 0x00465450);
        } catch (const Error& e) {
            GTEST_SKIP() << "no ctnetlink here (needs CAP_NET_ADMIN): " << e.what();
        }
    }

    // A watch that records every event it gets.
    std::uint64_t record(const FlowKey& key) {
        return flows_->watch(key, [this](const FlowEvent& event) { events_.push_back(event); });
    }

    static ConntrackFlows::Seen flow(const char* from, std::uint16_t from_port, const char* to,
                                     std::uint16_t port, int type, int state) {
        ConntrackFlows::Seen seen;
        seen.key = {make_address(from), make_address(to), port};
        seen.from_port = from_port;
        seen.type = type;
        seen.tcp_state = state;
        return seen;
    }

    boost::asio::io_context io_;
    std::unique_ptr<ConntrackFlows> flows_;
    std::vector<FlowEvent> events_;
};

TEST_F(ConntrackFlowsTest, StartsWithTheFirstMatchingConnectionAndEndsAtTimeWait) {
    // The key as the session knows it (a dual-stack socket's mapped form).
    record({make_address("::ffff:198.18.1.2"), make_address("198.18.1.1"), 50010});
    flows_->seen(
        flow("198.18.1.2", 41000, "198.18.1.1", 50010, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    ASSERT_EQ(events_.size(), 1u);
    EXPECT_EQ(events_[0].kind, FlowEvent::Kind::Started);
    EXPECT_EQ(events_[0].from_port, 41000);
    // Not ours: another source, another port, another source port.
    flows_->seen(
        flow("198.18.1.3", 41000, "198.18.1.1", 50010, NFCT_T_UPDATE, TCP_CONNTRACK_TIME_WAIT));
    flows_->seen(
        flow("198.18.1.2", 41000, "198.18.1.1", 50011, NFCT_T_UPDATE, TCP_CONNTRACK_TIME_WAIT));
    flows_->seen(
        flow("198.18.1.2", 41001, "198.18.1.1", 50010, NFCT_T_UPDATE, TCP_CONNTRACK_TIME_WAIT));
    // Its own states before the end change nothing.
    flows_->seen(
        flow("198.18.1.2", 41000, "198.18.1.1", 50010, NFCT_T_UPDATE, TCP_CONNTRACK_ESTABLISHED));
    flows_->seen(
        flow("198.18.1.2", 41000, "198.18.1.1", 50010, NFCT_T_UPDATE, TCP_CONNTRACK_FIN_WAIT));
    ASSERT_EQ(events_.size(), 1u);
    auto end =
        flow("198.18.1.2", 41000, "198.18.1.1", 50010, NFCT_T_UPDATE, TCP_CONNTRACK_TIME_WAIT);
    end.counters = {true, 10, 1000, 20, 8389000};
    flows_->seen(end);
    ASSERT_EQ(events_.size(), 2u);
    EXPECT_EQ(events_[1].kind, FlowEvent::Kind::Ended);
    EXPECT_EQ(events_[1].ending, "closed");
    EXPECT_EQ(events_[1].counters.reply_bytes, 8389000u);
    // The watch is gone with its end: a later event of the entry (its
    // removal) finds nothing.
    flows_->seen(flow("198.18.1.2", 41000, "198.18.1.1", 50010, NFCT_T_DESTROY, -1));
    EXPECT_EQ(events_.size(), 2u);
}

TEST_F(ConntrackFlowsTest, AResetOrARemovalEndsIt) {
    record({make_address("fd18:1::2"), make_address("fd18:1::1"), 50020});
    record({make_address("fd18:1::2"), make_address("fd18:1::1"), 50021});
    flows_->seen(flow("fd18:1::2", 42000, "fd18:1::1", 50020, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    flows_->seen(flow("fd18:1::2", 42001, "fd18:1::1", 50021, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    flows_->seen(flow("fd18:1::2", 42000, "fd18:1::1", 50020, NFCT_T_UPDATE, TCP_CONNTRACK_CLOSE));
    flows_->seen(flow("fd18:1::2", 42001, "fd18:1::1", 50021, NFCT_T_DESTROY, -1));
    ASSERT_EQ(events_.size(), 4u);
    EXPECT_EQ(events_[2].ending, "reset");
    EXPECT_EQ(events_[3].ending, "gone");
}

// An UPDATE first (the NEW event was lost) still starts the watch.
TEST_F(ConntrackFlowsTest, AnUpdateStartsAWatchWhoseNewWasLost) {
    record({make_address("198.18.1.2"), make_address("198.18.1.1"), 50030});
    flows_->seen(
        flow("198.18.1.2", 43000, "198.18.1.1", 50030, NFCT_T_UPDATE, TCP_CONNTRACK_ESTABLISHED));
    ASSERT_EQ(events_.size(), 1u);
    EXPECT_EQ(events_[0].kind, FlowEvent::Kind::Started);
}

TEST_F(ConntrackFlowsTest, AnUnwatchedOrSelfRemovingWatchHearsNothingMore) {
    const auto id = record({make_address("198.18.1.2"), make_address("198.18.1.1"), 50040});
    flows_->unwatch(id);
    flows_->seen(
        flow("198.18.1.2", 44000, "198.18.1.1", 50040, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    EXPECT_TRUE(events_.empty());
    // A handler that unwatches itself on Started (a session that let go).
    std::uint64_t self = 0;
    int calls = 0;
    self = flows_->watch({make_address("198.18.1.2"), make_address("198.18.1.1"), 50041},
                         [&](const FlowEvent&) {
                             ++calls;
                             flows_->unwatch(self);
                         });
    flows_->seen(
        flow("198.18.1.2", 44001, "198.18.1.1", 50041, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    flows_->seen(
        flow("198.18.1.2", 44001, "198.18.1.1", 50041, NFCT_T_UPDATE, TCP_CONNTRACK_TIME_WAIT));
    EXPECT_EQ(calls, 1);
}

TEST_F(ConntrackFlowsTest, StopEndsEveryWatch) {
    record({make_address("198.18.1.2"), make_address("198.18.1.1"), 50050});
    flows_->seen(
        flow("198.18.1.2", 45000, "198.18.1.1", 50050, NFCT_T_NEW, TCP_CONNTRACK_SYN_SENT));
    record({make_address("198.18.1.2"), make_address("198.18.1.1"), 50051});
    flows_->stop();
    ASSERT_EQ(events_.size(), 3u);
    EXPECT_EQ(events_[1].ending, "still open when the worker stopped");
    EXPECT_EQ(events_[2].ending, "still open when the worker stopped");
    // No counters for a connection conntrack does not have.
    EXPECT_FALSE(events_[1].counters.known);
}

}  // namespace
}  // namespace firewall
