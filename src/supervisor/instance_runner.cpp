#include "supervisor/instance_runner.hpp"

#include <spdlog/spdlog.h>

#include "supervisor/listen_socket.hpp"

namespace supervisor {

InstanceRunner::InstanceRunner(asio::io_context& io, WorkerHost& host, config::Instance instance,
                               RestartPolicy policy)
    : host_(host), instance_(std::move(instance)), lifecycle_(policy), timer_(io) {}

InstanceRunner::~InstanceRunner() {
    retire_current(WorkerHost::Retire::drain);
}

void InstanceRunner::start() {
    const State before = lifecycle_.state();
    if (before == State::draining) {
        retire_current(WorkerHost::Retire::drain);  // it goes on draining as an old worker
    }
    run(lifecycle_.start(Clock::now()), before);
}

void InstanceRunner::restart() {
    const State before = lifecycle_.state();
    retire_current(WorkerHost::Retire::drain);
    run(lifecycle_.restart(Clock::now()), before);
}

void InstanceRunner::replace(config::Instance instance) {
    const bool same_socket = instance.listen_address == instance_.listen_address &&
                             instance.listen_port == instance_.listen_port;
    instance_ = std::move(instance);
    if (!same_socket) close_listener();  // the old worker keeps its own copy while it drains
    restart();
}

void InstanceRunner::stop() {
    const State before = lifecycle_.state();
    close_listener();
    run(lifecycle_.stop(Clock::now()), before);
}

void InstanceRunner::drain() {
    const State before = lifecycle_.state();
    close_listener();
    run(lifecycle_.drain(Clock::now()), before);
}

void InstanceRunner::worker_exited(pid_t pid, const std::string& reason) {
    if (pid != pid_) return;
    pid_ = 0;
    const State before = lifecycle_.state();
    const Step step = lifecycle_.worker_exited(reason, Clock::now());
    if (before != State::draining) {
        spdlog::warn("{}: worker {} died ({})", instance_.name, pid, reason);
    } else {
        spdlog::info("{}: worker {} ended ({})", instance_.name, pid, reason);
    }
    if (lifecycle_.state() == State::fatal) {
        spdlog::error(
            "{}: worker failed {} times in a row; giving up (FATAL). "
            "`ftpproxyctl start {}` tries again",
            instance_.name, lifecycle_.failures_in_a_row(), instance_.name);
    }
    run(step, before);
}

std::string InstanceRunner::start_failure() const {
    if (pid_ > 0) return {};
    const auto& exit = lifecycle_.last_exit();
    return "could not start: " + (exit ? exit->reason : std::string("unknown")) + " (now " +
           std::string(to_string(lifecycle_.state())) + ")";
}

void InstanceRunner::run(Step step, State before) {
    // A timer belongs to the state that armed it.
    if (step.action != Step::Do::nothing || lifecycle_.state() != before) cancel_timer();
    switch (step.action) {
        case Step::Do::nothing:
            break;
        case Step::Do::spawn:
            spawn();
            break;
        case Step::Do::wait:
            if (lifecycle_.state() == State::backoff) {
                spdlog::info("{}: next start in {} ms", instance_.name, step.delay.count());
            }
            arm_timer(step.delay);
            break;
        case Step::Do::drain_worker:
            if (pid_ > 0) host_.drain_worker(pid_);
            break;
        case Step::Do::stop_worker:
            if (pid_ > 0) host_.stop_worker(pid_);
            break;
    }
}

void InstanceRunner::spawn() {
    const State before = lifecycle_.state();
    std::string error;
    if (!ensure_listening(error)) {
        spdlog::error("{}: {}", instance_.name, error);
        run(lifecycle_.spawn_failed(error, Clock::now()), before);
        return;
    }
    const WorkerHost::Started started = host_.start_worker(*this, listen_.get());
    if (started.pid <= 0) {
        spdlog::error("{}: {}", instance_.name, started.error);
        run(lifecycle_.spawn_failed(started.error, Clock::now()), before);
        return;
    }
    pid_ = started.pid;
    worker_started_ = Clock::now();
    spdlog::info("{}: worker {} started", instance_.name, pid_);
    run(lifecycle_.spawned(worker_started_), before);
}

void InstanceRunner::retire_current(WorkerHost::Retire how) {
    if (pid_ <= 0) return;
    host_.retire_worker(pid_, how);
    pid_ = 0;
}

bool InstanceRunner::ensure_listening(std::string& error) {
    if (listen_) return true;
    listen_ = host_.take_spare_listener(instance_.listen_address, instance_.listen_port);
    if (listen_) return true;
    ListenResult result = open_listen_socket(instance_.listen_address, instance_.listen_port);
    if (!result.fd) {
        error = std::move(result.error);
        return false;
    }
    listen_ = std::move(result.fd);
    return true;
}

void InstanceRunner::arm_timer(milliseconds delay) {
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_after(delay);
    timer_.async_wait([this, generation](error_code error) {
        if (error || generation != timer_generation_) return;
        const State before = lifecycle_.state();
        run(lifecycle_.timer_expired(Clock::now()), before);
    });
}

void InstanceRunner::cancel_timer() {
    ++timer_generation_;
    timer_.cancel();
}

}  // namespace supervisor
