#include "config/closest_key.hpp"

#include <gtest/gtest.h>

#include <array>

namespace {

using config::closest_key;
using config::edit_distance;

constexpr std::array<std::string_view, 5> kKeys = {"name", "listen", "public", "backend",
                                                   "max_sessions"};

TEST(ClosestKey, EditDistanceCountsASwapAsOne) {
    EXPECT_EQ(edit_distance("listen", "listen"), 0u);
    EXPECT_EQ(edit_distance("lsiten", "listen"), 1u);
    EXPECT_EQ(edit_distance("listn", "listen"), 1u);
    EXPECT_EQ(edit_distance("", "abc"), 3u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ClosestKey, SuggestsTheLikelyIntent) {
    EXPECT_EQ(closest_key("lsiten", kKeys), "listen");
    EXPECT_EQ(closest_key("backnd", kKeys), "backend");
    EXPECT_EQ(closest_key("max_session", kKeys), "max_sessions");
    EXPECT_EQ(closest_key("maxsessions", kKeys), "max_sessions");
    EXPECT_EQ(closest_key("Name", kKeys), "name");
}

TEST(ClosestKey, StaysQuietWhenNothingIsClose) {
    EXPECT_EQ(closest_key("colour", kKeys), std::nullopt);
    EXPECT_EQ(closest_key("x", kKeys), std::nullopt);
    EXPECT_EQ(closest_key("timeout", kKeys), std::nullopt);
}

}  // namespace
