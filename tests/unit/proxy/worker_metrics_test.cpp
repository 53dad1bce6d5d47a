// The worker's counters as ftpproxyd reads them: histogram buckets (each of
// its own interval; ftpproxyd makes them cumulative) and the JSON shape.
#include "proxy/worker_metrics.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

TEST(WorkerMetrics, HistogramBucketsHoldTheirOwnInterval) {
    Histogram h({0.1, 1});
    h.observe(0.05);
    h.observe(0.1);  // at a bound: that bucket (le)
    h.observe(0.5);
    h.observe(7);
    const auto json = h.json();
    EXPECT_EQ(json["buckets"]["0.1"], 2);
    EXPECT_EQ(json["buckets"]["1"], 1);
    EXPECT_EQ(json["buckets"]["+Inf"], 1);
    EXPECT_EQ(json["count"], 4);
    EXPECT_DOUBLE_EQ(json["sum"].get<double>(), 7.65);
}

TEST(WorkerMetrics, EveryReasonAndModeIsReported) {
    WorkerMetrics m;
    m.refused(SessionRefusal::BackendDown);
    ++m.commands_refused[static_cast<std::size_t>(ftp::Refusal::Bounce)];
    ++m.data_connections[static_cast<std::size_t>(ftp::DataMode::Epsv)];
    m.data_finished(100, 7, 0.25, true);
    m.data_finished(0, 0, 0, false);  // closed unused: no duration
    const auto json = m.json();
    EXPECT_EQ(json["sessions_refused"].size(), kSessionRefusals);
    EXPECT_EQ(json["sessions_refused"]["backend_down"], 1);
    EXPECT_EQ(json["commands_refused"].size(), ftp::kRefusals);
    EXPECT_EQ(json["commands_refused"]["bounce"], 1);
    EXPECT_EQ(json["data_connections"]["epsv"], 1);
    EXPECT_EQ(json["data_bytes"]["to_client"], 100);
    EXPECT_EQ(json["transfer_seconds"]["count"], 1);
}

}  // namespace
}  // namespace proxy
