// Log levels as syslog numbers them, because the worker's -D takes exactly
// these numbers (OpenBSD ftp-proxy compatibility).
#pragma once

#include <optional>
#include <string_view>

namespace config {

enum class LogLevel { emerg = 0, alert, crit, err, warning, notice, info, debug };

// A syslog name ("err", "warning", "notice", "info", "debug", ... plus the
// common spellings "error" and "warn") or a number 0..7.
std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

}  // namespace config
