#include "config/log_level.hpp"

#include <array>
#include <cstddef>

namespace config {

namespace {

constexpr std::array<std::string_view, 8> kNames = {"emerg",   "alert",  "crit", "err",
                                                    "warning", "notice", "info", "debug"};

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
    if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') {
        return static_cast<LogLevel>(text[0] - '0');
    }
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (text == kNames[i]) {
            return static_cast<LogLevel>(i);
        }
    }
    if (text == "error") {
        return LogLevel::err;
    }
    if (text == "warn") {
        return LogLevel::warning;
    }
    return std::nullopt;
}

std::string_view to_string(LogLevel level) {
    return kNames.at(static_cast<std::size_t>(level));
}

}  // namespace config
