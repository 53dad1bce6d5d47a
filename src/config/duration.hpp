// Durations in the configuration: "30s", "5m", "24h", "1d" or plain seconds.
// One number and at most one unit: "1h30m" is refused rather than guessed at;
// write "90m".
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace config {

std::optional<std::chrono::seconds> parse_duration(std::string_view text);
// The same, and also "500ms": for settings below a second (health checks).
std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text);

}  // namespace config
