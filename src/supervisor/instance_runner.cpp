#include "supervisor/instance_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "config/worker_argv.hpp"
#include "supervisor/metrics_text.hpp"

namespace supervisor {

InstanceRunner::InstanceRunner(RunnerContext& context, config::Instance instance)
    : context_(context),
      instance_(std::move(instance)),
      lifecycle_(context.policy),
      timer_(context.io) {
    start_monitor();
}

// Normally a runner goes only once idle (retire()); at an abrupt end its
// workers are told to stop and their exits are no longer watched.
InstanceRunner::~InstanceRunner() {
    if (monitor_) monitor_->stop();
    for (auto* process : processes()) context_.reaper.forget(process->pid());
    stop_all_now();
}

std::vector<const WorkerProcess*> InstanceRunner::processes() const {
    std::vector<const WorkerProcess*> all;
    if (current_) all.push_back(current_.get());
    for (const auto& old : old_) all.push_back(old.get());
    return all;
}

void InstanceRunner::start() {
    const State before = lifecycle_.state();
    if (before == State::draining) retire_current();  // it goes on draining as an old worker
    run(lifecycle_.start(Clock::now()), before);
}

void InstanceRunner::restart() {
    const State before = lifecycle_.state();
    retire_current();
    run(lifecycle_.restart(Clock::now()), before);
}

void InstanceRunner::replace(config::Instance instance) {
    const bool same_socket = instance.listen_address == instance_.listen_address &&
                             instance.listen_port == instance_.listen_port;
    instance_ = std::move(instance);
    if (!same_socket) listen_.reset();  // the old worker keeps its own copy while it drains
    start_monitor();
    restart();
}

void InstanceRunner::stop() {
    const State before = lifecycle_.state();
    listen_.reset();
    run(lifecycle_.stop(Clock::now()), before);
}

void InstanceRunner::drain() {
    const State before = lifecycle_.state();
    listen_.reset();
    run(lifecycle_.drain(Clock::now()), before);
}

void InstanceRunner::retire(std::function<void()> on_idle) {
    cancel_timer();
    if (monitor_) monitor_->stop();
    listen_.reset();
    retire_current();
    on_idle_ = std::move(on_idle);
    if (idle()) asio::post(context_.io, on_idle_);
}

void InstanceRunner::stop_all_now() {
    if (current_) current_->stop();
    for (auto& old : old_) old->stop();
}

std::string InstanceRunner::start_failure() const {
    if (current_) return {};
    const auto& exit = lifecycle_.last_exit();
    return "could not start: " + (exit ? exit->reason : std::string("unknown")) + " (now " +
           std::string(to_string(lifecycle_.state())) + ")";
}

void InstanceRunner::run(Step step, State before) {
    run_step(step, before);
    if (lifecycle_.state() == State::running) served_before_ = true;
    if (!listen_) served_before_ = false;  // stopped or drained: it starts over
    // A worker that keeps dying proves itself again (RUNNING) before its
    // instance counts as serving: otherwise each restart after a delay made
    // the node fit for a moment, and the VIP flapped with the crash loop.
    if (lifecycle_.state() == State::backoff) served_before_ = false;
    if (lifecycle_.state() != before && context_.changed) context_.changed();
}

void InstanceRunner::run_step(Step step, State before) {
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
            if (current_) current_->drain(context_.global->drain_timeout);
            break;
        case Step::Do::stop_worker:
            if (current_) current_->stop();
            break;
    }
}

void InstanceRunner::spawn() {
    const State before = lifecycle_.state();
    std::string error;
    if (!listen_)
        listen_ =
            context_.listeners.acquire(instance_.listen_address, instance_.listen_port, error);
    if (!listen_) {
        spdlog::error("{}: {}", instance_.name, error);
        run(lifecycle_.spawn_failed(error, Clock::now()), before);
        return;
    }
    std::vector<std::string> argv = config::worker_argv(
        *context_.global, instance_, chosen_,
        context_.cluster != nullptr && !context_.cluster->handoff_nodes.empty());
    if (context_.debug) argv.emplace_back("-d");
    WorkerStart started = WorkerProcess::start(context_.io, std::move(argv), listen_->get());
    if (!started.worker) {
        spdlog::error("{}: {}", instance_.name, started.error);
        run(lifecycle_.spawn_failed(started.error, Clock::now()), before);
        return;
    }
    current_ = std::move(started.worker);
    const pid_t pid = current_->pid();
    context_.reaper.watch(pid, [this, pid](int status) { reaped(pid, status); });
    worker_started_ = Clock::now();
    spdlog::info("{}: worker {} started", instance_.name, pid);
    run(lifecycle_.spawned(worker_started_), before);
}

void InstanceRunner::reaped(pid_t pid, int status) {
    const std::string reason = describe_worker_exit(status);
    if (current_ && current_->pid() == pid) {
        add_counts(exited_counts_, current_->control()->last_metrics());
        current_->exited();
        current_.reset();
        current_exited(pid, reason);
    } else {
        const auto old = std::find_if(old_.begin(), old_.end(),
                                      [pid](const auto& process) { return process->pid() == pid; });
        if (old == old_.end()) return;
        add_counts(exited_counts_, (*old)->control()->last_metrics());
        (*old)->exited();
        old_.erase(old);
        spdlog::info("{}: old worker {} ended ({})", instance_.name, pid, reason);
    }
    if (on_idle_ && idle()) asio::post(context_.io, on_idle_);
}

void InstanceRunner::current_exited(pid_t pid, const std::string& reason) {
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

// The worker is no longer the current one: it drains its sessions on its
// own and is kept with the old workers until it exits.
void InstanceRunner::retire_current() {
    if (!current_) return;
    current_->drain(context_.global->drain_timeout);
    spdlog::info("{}: old worker {} drains its sessions", instance_.name, current_->pid());
    old_.push_back(std::move(current_));
}

bool InstanceRunner::worker_answered(pid_t pid, bool answered) {
    const bool before = responding();
    if (!answered) {
        if (silent_pid_ != pid)
            spdlog::warn("{}: worker {} does not answer its control socket", instance_.name, pid);
        silent_pid_ = pid;
    } else if (silent_pid_ == pid) {
        spdlog::info("{}: worker {} answers again", instance_.name, pid);
        silent_pid_ = 0;
    }
    return responding() != before;
}

void InstanceRunner::start_monitor() {
    if (monitor_) monitor_->stop();
    monitor_.reset();
    chosen_ = 0;
    if (instance_.mode != config::Mode::reverse || instance_.backends.empty()) return;
    monitor_ =
        std::make_shared<BackendMonitor>(context_.io, instance_, [this] { backends_changed(); });
    monitor_->start();
}

void InstanceRunner::backends_changed() {
    if (context_.changed) context_.changed();
    const auto next = monitor_->first_up();
    if (!next || *next == chosen_) return;
    const auto& entries = monitor_->entries();
    const auto name = [&entries](std::size_t i) {
        return common::format_host_port(entries[i].backend.host, entries[i].backend.port);
    };
    spdlog::warn("{}: new sessions go to backend {} (was {}: {}); running sessions stay",
                 instance_.name, name(*next), name(chosen_),
                 std::string(to_string(entries[chosen_].health.state())));
    chosen_ = *next;
    // A worker started from now on gets it as -R; the running one is told.
    if (current_ && entries[chosen_].endpoint &&
        !current_->control()->send_backend(*entries[chosen_].endpoint)) {
        spdlog::warn("{}: could not tell worker {} about the backend change", instance_.name,
                     current_->pid());
    }
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
