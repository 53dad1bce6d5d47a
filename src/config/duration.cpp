#include "config/duration.hpp"

#include <cstdint>

namespace config {

namespace {

// Nine digits times a day still fits in 64 bits; longer numbers are typos.
constexpr std::size_t kMaxDigits = 9;

// Seconds per unit letter, 0 when the letter is no unit.
std::int64_t unit_seconds(char unit) {
    switch (unit) {
        case 's':
            return 1;
        case 'm':
            return 60;
        case 'h':
            return 3600;
        case 'd':
            return 86400;
        default:
            return 0;
    }
}

std::optional<std::int64_t> parse_digits(std::string_view text) {
    if (text.empty() || text.size() > kMaxDigits) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
    std::int64_t unit = 1;
    if (!text.empty() && unit_seconds(text.back()) != 0) {
        unit = unit_seconds(text.back());
        text.remove_suffix(1);
    }
    const auto value = parse_digits(text);
    if (!value) {
        return std::nullopt;
    }
    return std::chrono::seconds{*value * unit};
}

std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text) {
    if (text.size() > 2 && text.ends_with("ms")) {
        const auto value = parse_digits(text.substr(0, text.size() - 2));
        if (!value) {
            return std::nullopt;
        }
        return std::chrono::milliseconds{*value};
    }
    const auto seconds = parse_duration(text);
    if (!seconds) {
        return std::nullopt;
    }
    return std::chrono::milliseconds{*seconds};
}

}  // namespace config
