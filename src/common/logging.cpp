#include "common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

namespace common {
namespace {

// syslog levels are finer than spdlog's at the top (emerg/alert/crit all mean
// "critical" to an operator) and coarser at notice/info: notice is the
// OpenBSD default and is where session start/end lines belong, so it maps to
// spdlog's info, and info (6) to debug-lite (spdlog debug) is not wanted:
// -D6 must not flood. Both 5 and 6 therefore show info.
spdlog::level::level_enum to_spdlog_level(int syslog_level) {
    if (syslog_level <= LOG_CRIT) return spdlog::level::critical;
    if (syslog_level == LOG_ERR) return spdlog::level::err;
    if (syslog_level == LOG_WARNING) return spdlog::level::warn;
    if (syslog_level <= LOG_INFO) return spdlog::level::info;
    return spdlog::level::debug;
}

}  // namespace

void setup_logging(LogTarget target, int syslog_level, const std::string& ident) {
    std::shared_ptr<spdlog::logger> logger;
    if (target == LogTarget::Stderr) {
        logger = std::make_shared<spdlog::logger>(
            ident, std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n[%P] %l: %v");
    } else {
        // LOG_NDELAY opens the syslog socket now, before a chroot hides /dev/log.
        logger = std::make_shared<spdlog::logger>(
            ident, std::make_shared<spdlog::sinks::syslog_sink_mt>(ident, LOG_PID | LOG_NDELAY,
                                                                   LOG_DAEMON, true));
        logger->set_pattern("%v");
    }
    logger->set_level(to_spdlog_level(syslog_level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace common
