#include "proxy/log_limiter.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

using namespace std::chrono_literals;
using Clock = LogLimiter::Clock;

TEST(LogLimiter, AllowsTheBurstThenCountsWhatItLeavesOut) {
    const auto t0 = Clock::time_point{} + 1h;
    LogLimiter limiter(3, 10s, t0);
    EXPECT_TRUE(limiter.allow(t0));
    EXPECT_TRUE(limiter.allow(t0));
    EXPECT_TRUE(limiter.allow(t0));
    for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.allow(t0 + 1s));
    EXPECT_EQ(limiter.take_suppressed(), 1000u);
    EXPECT_EQ(limiter.take_suppressed(), 0u);
}

TEST(LogLimiter, RefillsOneLinePerInterval) {
    const auto t0 = Clock::time_point{} + 1h;
    LogLimiter limiter(2, 10s, t0);
    EXPECT_TRUE(limiter.allow(t0));
    EXPECT_TRUE(limiter.allow(t0));
    EXPECT_FALSE(limiter.allow(t0 + 9s));
    EXPECT_TRUE(limiter.allow(t0 + 10s));
    EXPECT_FALSE(limiter.allow(t0 + 11s));
    EXPECT_TRUE(limiter.allow(t0 + 20s));
    EXPECT_EQ(limiter.take_suppressed(), 2u);
}

TEST(LogLimiter, AFloodOverHoursLogsAtTheRefillRateOnly) {
    const auto t0 = Clock::time_point{} + 1h;
    LogLimiter limiter(10, 10s, t0);
    int logged = 0;
    // One attempt per millisecond for an hour: 3.6 million lines provoked.
    for (int ms = 0; ms < 3'600'000; ++ms)
        logged += limiter.allow(t0 + std::chrono::milliseconds(ms)) ? 1 : 0;
    EXPECT_EQ(logged, 10 + 360 - 1);
    EXPECT_EQ(limiter.take_suppressed(), 3'600'000u - static_cast<unsigned>(logged));
}

TEST(LogLimiter, AQuietPeriodRestoresTheWholeBurstButNoMore) {
    const auto t0 = Clock::time_point{} + 1h;
    LogLimiter limiter(3, 10s, t0);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.allow(t0));
    const auto later = t0 + 24h;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.allow(later));
    EXPECT_FALSE(limiter.allow(later));
}

}  // namespace
}  // namespace proxy
