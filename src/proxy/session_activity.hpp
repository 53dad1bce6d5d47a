// What a session shares with its data channels, which may outlive it by a
// moment (their coroutines hold them): the bytes they relayed, for the idle
// timeout, and the session's budget for log lines that peers provoke.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string_view>
#include <utility>

#include "proxy/log_limiter.hpp"

namespace proxy {

// Lines a peer may provoke per session: this many at once, then one per
// interval (see LogLimiter).
inline constexpr unsigned kProvokedLogBurst = 10;
inline constexpr std::chrono::seconds kProvokedLogRefill{10};

struct SessionActivity {
    // Bytes delivered by every data channel of the session. Idle (-t) means
    // no byte moved on any of the session's connections.
    std::uint64_t data_bytes = 0;
    LogLimiter provoked_logs{kProvokedLogBurst, kProvokedLogRefill,
                             std::chrono::steady_clock::now()};

    // Logs "TAG text" unless the session's budget is spent; the first line
    // after a gap says how many were left out.
    template <typename... Args>
    void log_provoked(spdlog::level::level_enum level, std::string_view tag,
                      fmt::format_string<Args...> format, Args&&... args) {
        if (!spdlog::should_log(level)) return;
        if (!provoked_logs.allow(std::chrono::steady_clock::now())) return;
        auto text = fmt::format(format, std::forward<Args>(args)...);
        if (auto left_out = provoked_logs.take_suppressed())
            spdlog::log(level, "{} {} ({} similar line{} not logged before this one)", tag, text,
                        left_out, left_out == 1 ? "" : "s");
        else
            spdlog::log(level, "{} {}", tag, text);
    }
    // For the end of the session: lines left out and not yet reported.
    std::uint64_t unreported() { return provoked_logs.take_suppressed(); }
};

}  // namespace proxy
