#include "common/logging.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <mutex>
#include <string_view>

namespace common {
namespace {

// See logging.hpp: spdlog's info, debug, trace are syslog's notice, info,
// debug.
spdlog::level::level_enum to_spdlog_level(int syslog_level) {
    if (syslog_level <= LOG_CRIT) return spdlog::level::critical;
    if (syslog_level == LOG_ERR) return spdlog::level::err;
    if (syslog_level == LOG_WARNING) return spdlog::level::warn;
    if (syslog_level == LOG_NOTICE) return spdlog::level::info;
    if (syslog_level == LOG_INFO) return spdlog::level::debug;
    return spdlog::level::trace;
}

int syslog_priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical:
            return LOG_CRIT;
        case spdlog::level::err:
            return LOG_ERR;
        case spdlog::level::warn:
            return LOG_WARNING;
        case spdlog::level::info:
            return LOG_NOTICE;
        case spdlog::level::debug:
            return LOG_INFO;
        default:
            return LOG_DEBUG;
    }
}

std::string_view syslog_name(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::critical:
            return "crit";
        case spdlog::level::err:
            return "err";
        case spdlog::level::warn:
            return "warning";
        case spdlog::level::info:
            return "notice";
        case spdlog::level::debug:
            return "info";
        default:
            return "debug";
    }
}

// %L in the stderr pattern: the syslog name of the line's level.
class SyslogLevelFlag : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        auto name = syslog_name(msg.level);
        dest.append(name.data(), name.data() + name.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<SyslogLevelFlag>();
    }
};

// spdlog's own syslog sink maps its levels to syslog's one to one (info ->
// LOG_INFO); this one applies the mapping above, so notice lines are
// LOG_NOTICE. openlog() with LOG_NDELAY opens the socket now, before a chroot
// hides /dev/log.
class SyslogSink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit SyslogSink(std::string ident) : ident_(std::move(ident)) {
        ::openlog(ident_.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
    ~SyslogSink() override { ::closelog(); }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        auto length = formatted.size();
        while (length > 0 && (formatted[length - 1] == '\n' || formatted[length - 1] == '\r'))
            --length;
        ::syslog(syslog_priority(msg.level), "%.*s", static_cast<int>(length), formatted.data());
    }
    void flush_() override {}

  private:
    std::string ident_;  // openlog() keeps the pointer
};

}  // namespace

void setup_logging(LogTarget target, int syslog_level, const std::string& ident) {
    std::shared_ptr<spdlog::logger> logger;
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SyslogLevelFlag>('L');
    if (target == LogTarget::Stderr) {
        logger = std::make_shared<spdlog::logger>(
            ident, std::make_shared<spdlog::sinks::stderr_sink_mt>());
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %n[%P] %L: %v");
    } else {
        logger = std::make_shared<spdlog::logger>(ident, std::make_shared<SyslogSink>(ident));
        formatter->set_pattern("%v");
    }
    logger->set_formatter(std::move(formatter));
    logger->set_level(to_spdlog_level(syslog_level));
    // Not per line: a flush per line at notice and below is a system call
    // per line for nothing (syslog has nothing to flush; stderr is
    // unbuffered, each line is one write). Warnings and worse are flushed.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace common
