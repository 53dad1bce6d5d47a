// The life of one instance's worker as a state machine, without processes,
// sockets or clocks: events go in (with the time they happened), and each
// returns the one thing the caller must do next. InstanceRunner carries the
// steps out; the unit tests drive this class directly.
//
//            start               spawned              startup elapsed
//   STOPPED -------> (spawn) ----------> STARTING -----------------> RUNNING
//     ^  ^                 \ spawn failed    | exited                   | exited
//     |  |                  v                v                          v
//     |  |               BACKOFF <----- failure: restart at once, then 1 s, 2 s ...
//     |  |                  |  delay elapsed -> (spawn)      too many -> FATAL
//     |  +-- exited --- DRAINING <-- drain / stop (from STARTING or RUNNING)
//     +------------------- stop (from BACKOFF or FATAL)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace supervisor {

using Clock = std::chrono::steady_clock;
// Whole seconds from `from` to `to`, as status shows durations.
inline std::int64_t seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}
using std::chrono::milliseconds;

enum class State { starting, running, backoff, draining, stopped, fatal };

// Upper case, as status shows it: "RUNNING".
std::string_view to_string(State state);

// Restart tunables, named once.
struct RestartPolicy {
    // A worker alive this long after its start is RUNNING.
    milliseconds startup{1000};
    // The first failure restarts at once; the next ones wait first_delay,
    // doubling up to max_delay.
    milliseconds first_delay{1000};
    milliseconds max_delay{60000};
    // A worker that ran this long before it died counts as recovered: the
    // delays start over.
    milliseconds stable_after{60000};
    // This many failures in a row, none after a stable run: FATAL.
    int max_failures = 10;
};

// The delays between restarts of a worker that keeps dying.
class Backoff {
  public:
    explicit Backoff(const RestartPolicy& policy) : policy_(policy) {}
    // A failure after the worker ran for `uptime`. Returns how long to wait
    // before the next start, or nothing when the limit is reached.
    std::optional<milliseconds> next_delay(Clock::duration uptime);
    void reset() { failures_ = 0; }
    int failures() const { return failures_; }

  private:
    RestartPolicy policy_;
    int failures_ = 0;  // in a row, since the last stable run or reset
};

// What the caller does after an event.
struct Step {
    enum class Do {
        nothing,
        spawn,         // start a worker now, then report spawned() or spawn_failed()
        wait,          // arm the timer for `delay`, then report timer_expired()
        drain_worker,  // ask the worker to finish its sessions and exit
        stop_worker,   // ask the worker to close its sessions (421) and exit
    };
    Do action = Do::nothing;
    milliseconds delay{0};
    bool operator==(const Step&) const = default;
};

struct ExitRecord {
    std::string reason;  // "killed by SIGKILL", "exit 71 (...)"
    Clock::time_point at;
};

class Lifecycle {
  public:
    explicit Lifecycle(RestartPolicy policy = {}) : policy_(policy), backoff_(policy) {}

    State state() const { return state_; }
    Clock::time_point since() const { return since_; }  // when the state was entered
    // Failures (unexpected exits, failed starts) since the instance was
    // configured, each one counted, the last before FATAL included: status
    // shows it as RESTARTS.
    int restarts() const { return restarts_; }
    int failures_in_a_row() const { return backoff_.failures(); }
    const std::optional<ExitRecord>& last_exit() const { return last_exit_; }

    // The operator or the configuration wants a worker. From STOPPED, FATAL
    // or BACKOFF: spawn now, with a fresh backoff. From DRAINING: spawn (the
    // caller lets the draining worker go on as an old one). Else nothing.
    Step start(Clock::time_point now);
    // A new worker replaces the current one whatever the state (restart, a
    // changed configuration); the caller lets the old one drain.
    Step restart(Clock::time_point now);
    Step drain(Clock::time_point now);
    Step stop(Clock::time_point now);

    Step spawned(Clock::time_point now);
    Step spawn_failed(std::string reason, Clock::time_point now);
    Step timer_expired(Clock::time_point now);
    // The current worker is gone (any state that has one).
    Step worker_exited(std::string reason, Clock::time_point now);

  private:
    Step failed(std::string reason, Clock::duration uptime, Clock::time_point now);
    void enter(State state, Clock::time_point now);

    RestartPolicy policy_;
    Backoff backoff_;
    State state_ = State::stopped;
    Clock::time_point since_{};
    Clock::time_point worker_started_{};
    int restarts_ = 0;
    std::optional<ExitRecord> last_exit_;
};

}  // namespace supervisor
