// What ftpproxyd believes about one backend, from its health checks: up,
// down, or not known yet. Pure: results and times in, state out; the checks
// themselves are in health_probe.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace supervisor {

enum class Health { unknown, up, down };
std::string_view to_string(Health health);  // "unknown", "up", "down"

// Rise/fall as haproxy and keepalived count them: a backend that is up goes
// down after `fall` failed checks in a row, one that is down comes back
// after `rise` good ones. The first check decides at once, so that a node
// that has just started knows within one check whether it can serve.
class BackendHealth {
  public:
    using Clock = std::chrono::steady_clock;

    BackendHealth(int rise, int fall, Clock::time_point now)
        : rise_(rise), fall_(fall), since_(now) {}

    // One check's result; `detail` says what it saw ("220 in 3 ms",
    // "connect: Connection refused"). True when the state changed.
    bool record(bool ok, std::string detail, Clock::time_point now);

    Health state() const { return state_; }
    Clock::time_point since() const { return since_; }
    // The last check's detail, and the last failure's (kept while a backend
    // that was down comes back, and after).
    const std::string& last_detail() const { return last_detail_; }
    const std::string& reason() const { return reason_; }
    std::uint64_t checks() const { return checks_; }
    std::uint64_t failures() const { return failures_; }

  private:
    void change(Health next, Clock::time_point now);

    int rise_;
    int fall_;
    Health state_ = Health::unknown;
    Clock::time_point since_;
    int streak_ = 0;  // results in a row that point away from state_
    std::string last_detail_;
    std::string reason_;
    std::uint64_t checks_ = 0;
    std::uint64_t failures_ = 0;
};

}  // namespace supervisor
