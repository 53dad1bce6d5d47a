// Helpers shared by the configuration tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "../common/read_file.hpp"
#include "config/loader.hpp"

namespace config_test {

inline std::string error_text(const config::LoadResult& result) {
    std::string text;
    for (const auto& error : result.errors) {
        text += to_string(error) + "\n";
    }
    return text;
}

// Loads YAML that must be valid; a failure shows every error.
inline config::Config load_ok(std::string_view yaml) {
    const auto result = config::load_config_text(yaml, "test.yaml");
    EXPECT_TRUE(result.config.has_value()) << error_text(result);
    return result.config.value_or(config::Config{});
}

// The error lines for YAML that must be invalid.
inline std::vector<std::string> load_errors(std::string_view yaml) {
    const auto result = config::load_config_text(yaml, "test.yaml");
    EXPECT_FALSE(result.config.has_value());
    std::vector<std::string> lines;
    for (const auto& error : result.errors) {
        lines.push_back(to_string(error));
    }
    return lines;
}

using test_support::read_file;

}  // namespace config_test
