// Logging set-up shared by every program of the project. The programs log
// through spdlog's default logger; this decides where it goes.
#pragma once

#include <string>

namespace common {

// Where log lines go: standard error (foreground, -d) or syslog (daemon).
enum class LogTarget { Stderr, Syslog };

// syslog_level is the OpenBSD -D value 0..7 (LOG_EMERG..LOG_DEBUG): lines
// less severe than it are dropped. ident names the program in syslog.
void setup_logging(LogTarget target, int syslog_level, const std::string& ident);

}  // namespace common
