// Helpers shared by the supervisor's tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config_loader.hpp"

namespace supervisor_test {

inline std::string error_text(const supervisor::LoadResult& result) {
    std::string text;
    for (const auto& error : result.errors) {
        text += to_string(error) + "\n";
    }
    return text;
}

// Loads YAML that must be valid; a failure shows every error.
inline supervisor::Config load_ok(std::string_view yaml) {
    const auto result = supervisor::load_config_text(yaml, "test.yaml");
    EXPECT_TRUE(result.config.has_value()) << error_text(result);
    return result.config.value_or(supervisor::Config{});
}

// The error lines for YAML that must be invalid.
inline std::vector<std::string> load_errors(std::string_view yaml) {
    const auto result = supervisor::load_config_text(yaml, "test.yaml");
    EXPECT_FALSE(result.config.has_value());
    std::vector<std::string> lines;
    for (const auto& error : result.errors) {
        lines.push_back(to_string(error));
    }
    return lines;
}

inline std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace supervisor_test
