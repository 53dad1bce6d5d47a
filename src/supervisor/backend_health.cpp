#include "supervisor/backend_health.hpp"

namespace supervisor {

std::string_view to_string(Health health) {
    switch (health) {
        case Health::up:
            return "up";
        case Health::down:
            return "down";
        case Health::unknown:
            break;
    }
    return "unknown";
}

bool BackendHealth::record(bool ok, std::string detail, Clock::time_point now) {
    ++checks_;
    if (!ok) {
        ++failures_;
    }
    last_detail_ = std::move(detail);
    const Health before = state_;
    if (state_ == Health::unknown) {
        change(ok ? Health::up : Health::down, now);
    } else if ((state_ == Health::up) == ok) {
        streak_ = 0;  // confirms the state
    } else if (++streak_ >= (ok ? rise_ : fall_)) {
        change(ok ? Health::up : Health::down, now);
    }
    if (!ok) {
        reason_ = last_detail_;
    }
    return state_ != before;
}

void BackendHealth::change(Health next, Clock::time_point now) {
    state_ = next;
    since_ = now;
    streak_ = 0;
}

}  // namespace supervisor
