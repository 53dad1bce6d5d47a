#include "config/duration.hpp"

#include <gtest/gtest.h>

namespace {

using config::parse_duration;
using std::chrono::seconds;

TEST(Duration, PlainNumbersAreSeconds) {
    EXPECT_EQ(parse_duration("0"), seconds{0});
    EXPECT_EQ(parse_duration("30"), seconds{30});
    EXPECT_EQ(parse_duration("86400"), seconds{86400});
}

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration("30s"), seconds{30});
    EXPECT_EQ(parse_duration("5m"), seconds{300});
    EXPECT_EQ(parse_duration("24h"), seconds{86400});
    EXPECT_EQ(parse_duration("1d"), seconds{86400});
    EXPECT_EQ(parse_duration("999999999d"), seconds{999999999LL * 86400});
}

TEST(Duration, RefusesEverythingElse) {
    for (const char* text : {"", "s", "-5", "+5", "5 s", " 5", "5S", "1h30m", "1.5h", "5ms", "0x10",
                             "5w", "1000000000", "1e3"}) {
        EXPECT_EQ(parse_duration(text), std::nullopt) << text;
    }
}

}  // namespace
