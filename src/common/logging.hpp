// Logging set-up shared by every program of the project. The programs log
// through spdlog's default logger; this decides where it goes.
//
// Levels. The programs speak syslog's levels (-D 0..7, OpenBSD's default is
// notice), and spdlog has no notice level. So, one step down from spdlog's
// names at the bottom:
//
//     spdlog::info   = notice   sessions start and end, transfers, state changes
//     spdlog::debug  = info     what a peer asked for and was refused, detail
//     spdlog::trace  = debug    everything else
//
// warn, err and critical keep their meaning. Lines appear under the syslog
// name (in syslog with that priority, on stderr with that word).
#pragma once

#include <string>

namespace common {

// Where log lines go: standard error (foreground, -d) or syslog (daemon).
enum class LogTarget { Stderr, Syslog };

// syslog_level is the OpenBSD -D value 0..7 (LOG_EMERG..LOG_DEBUG): lines
// less severe than it are dropped. ident names the program in syslog.
void setup_logging(LogTarget target, int syslog_level, const std::string& ident);

}  // namespace common
