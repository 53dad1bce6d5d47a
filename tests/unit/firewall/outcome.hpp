// The outcome of a negotiation in tests: backends answer through a Done.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "firewall/firewall.hpp"

namespace firewall::test {

// For negotiations that must succeed and are answered before the call
// returns (nftables, pf through the direct runner).
inline const Done kOk = [](const std::string& error) { EXPECT_EQ(error, ""); };

// Keeps the outcome: "ok", or the error.
inline Done record(std::string& outcome) {
    return [&outcome](const std::string& error) { outcome = error.empty() ? "ok" : error; };
}

}  // namespace firewall::test
