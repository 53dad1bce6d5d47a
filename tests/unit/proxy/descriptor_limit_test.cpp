#include "proxy/descriptor_limit.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

rlimit limit(rlim_t soft, rlim_t hard) {
    return rlimit{soft, hard};
}

void expect_limit(rlimit got, rlim_t soft, rlim_t hard) {
    EXPECT_EQ(got.rlim_cur, soft);
    EXPECT_EQ(got.rlim_max, hard);
}

TEST(DescriptorLimit, NeedsNinePerSessionAndARest) {
    EXPECT_EQ(descriptors_needed(100), 964u);
    EXPECT_EQ(descriptors_needed(20000), 180064u);
    EXPECT_EQ(sessions_within(964), 100);
    EXPECT_EQ(sessions_within(1024), 106);  // systemd's default soft limit
    EXPECT_EQ(sessions_within(128), 7);     // OpenBSD's daemon class
    EXPECT_EQ(sessions_within(10), 0);
}

TEST(DescriptorLimit, AnEnoughSoftLimitStaysAsItIs) {
    expect_limit(plan_descriptor_limit(limit(4096, 8192), 964), 4096, 8192);
    expect_limit(plan_descriptor_limit(limit(RLIM_INFINITY, RLIM_INFINITY), 180064), RLIM_INFINITY,
                 RLIM_INFINITY);
}

TEST(DescriptorLimit, TheSoftLimitRisesToTheNeedWithinTheHardOne) {
    // systemd's default: soft 1024, hard 524288.
    expect_limit(plan_descriptor_limit(limit(1024, 524288), 180064), 180064, 524288);
    expect_limit(plan_descriptor_limit(limit(1024, RLIM_INFINITY), 180064), 180064, RLIM_INFINITY);
}

TEST(DescriptorLimit, TheSoftLimitStopsAtTheHardOne) {
    // The hard limit is the administrator's ceiling: not raised, even by root.
    expect_limit(plan_descriptor_limit(limit(128, 1024), 180064), 1024, 1024);
    expect_limit(plan_descriptor_limit(limit(64, 64), 964), 64, 64);
}

}  // namespace
}  // namespace proxy
