#include "supervisor/lifecycle.hpp"

#include <algorithm>

namespace supervisor {

std::string_view to_string(State state) {
    switch (state) {
        case State::starting:
            return "STARTING";
        case State::running:
            return "RUNNING";
        case State::backoff:
            return "BACKOFF";
        case State::draining:
            return "DRAINING";
        case State::stopped:
            return "STOPPED";
        case State::fatal:
            return "FATAL";
    }
    return "?";
}

std::optional<milliseconds> Backoff::next_delay(Clock::duration uptime) {
    if (uptime >= policy_.stable_after) {
        failures_ = 0;
    }
    ++failures_;
    if (failures_ >= policy_.max_failures) {
        return std::nullopt;
    }
    if (failures_ == 1) {
        return milliseconds{0};  // a single crash: back in service at once
    }
    milliseconds delay = policy_.first_delay;
    for (int i = 2; i < failures_ && delay < policy_.max_delay; ++i) {
        delay *= 2;
    }
    return std::min(delay, policy_.max_delay);
}

void Lifecycle::enter(State state, Clock::time_point now) {
    state_ = state;
    since_ = now;
}

Step Lifecycle::start(Clock::time_point now) {
    switch (state_) {
        case State::stopped:
        case State::fatal:
        case State::backoff:
        case State::draining:
            return restart(now);
        case State::starting:
        case State::running:
            return {};
    }
    return {};
}

Step Lifecycle::restart(Clock::time_point /*now*/) {
    backoff_.reset();
    return {Step::Do::spawn};
}

Step Lifecycle::drain(Clock::time_point now) {
    switch (state_) {
        case State::starting:
        case State::running:
            enter(State::draining, now);
            return {Step::Do::drain_worker};
        case State::backoff:
            enter(State::stopped, now);
            return {};
        case State::draining:
        case State::stopped:
        case State::fatal:
            return {};
    }
    return {};
}

Step Lifecycle::stop(Clock::time_point now) {
    switch (state_) {
        case State::starting:
        case State::running:
            enter(State::draining, now);
            return {Step::Do::stop_worker};
        case State::draining:
            return {Step::Do::stop_worker};  // a drain taking too long: cut it short
        case State::backoff:
        case State::fatal:
            enter(State::stopped, now);
            return {};
        case State::stopped:
            return {};
    }
    return {};
}

Step Lifecycle::spawned(Clock::time_point now) {
    enter(State::starting, now);
    worker_started_ = now;
    return {Step::Do::wait, policy_.startup};
}

Step Lifecycle::spawn_failed(std::string reason, Clock::time_point now) {
    return failed(std::move(reason), Clock::duration::zero(), now);
}

Step Lifecycle::timer_expired(Clock::time_point now) {
    if (state_ == State::starting) {
        enter(State::running, now);
        return {};
    }
    if (state_ == State::backoff) {
        return {Step::Do::spawn};
    }
    return {};
}

Step Lifecycle::worker_exited(std::string reason, Clock::time_point now) {
    switch (state_) {
        case State::starting:
        case State::running:
            return failed(std::move(reason), now - worker_started_, now);
        case State::draining:
            last_exit_ = ExitRecord{std::move(reason), now};
            enter(State::stopped, now);
            return {};
        case State::backoff:
        case State::stopped:
        case State::fatal:
            return {};
    }
    return {};
}

Step Lifecycle::failed(std::string reason, Clock::duration uptime, Clock::time_point now) {
    last_exit_ = ExitRecord{std::move(reason), now};
    ++restarts_;  // every failure, the one that makes it FATAL too
    const auto delay = backoff_.next_delay(uptime);
    if (!delay) {
        enter(State::fatal, now);
        return {};
    }
    enter(State::backoff, now);
    if (*delay == milliseconds{0}) {
        return {Step::Do::spawn};
    }
    return {Step::Do::wait, *delay};
}

}  // namespace supervisor
