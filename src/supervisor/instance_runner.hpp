// One configured instance and everything it runs: its listening socket (from
// Listeners), its current worker, the old workers still draining after a
// restart or a change, and the Lifecycle that decides when a worker is
// started again. The runner owns its worker processes outright and hears
// their exits itself; the Supervisor only creates runners, hands them a
// reload, and lets a removed one go once its last old worker has ended.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/backend_monitor.hpp"
#include "supervisor/child_reaper.hpp"
#include "supervisor/lifecycle.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/worker_process.hpp"

namespace supervisor {

// What every runner needs from ftpproxyd. `global` points at the current
// configuration's settings: a reload replaces them, and the next worker a
// runner starts uses the new ones.
struct RunnerContext {
    asio::io_context& io;
    ChildReaper& reaper;
    Listeners& listeners;
    const config::GlobalSettings* global = nullptr;
    bool debug = false;  // workers get -d: their logs go to our stderr
    RestartPolicy policy;
    // Called when an instance's state or a backend's health may have
    // changed (the node's fitness follows them).
    std::function<void()> changed;
    // The current configuration's cluster settings (worker --handoff).
    const config::ClusterSettings* cluster = nullptr;
};

class InstanceRunner {
  public:
    InstanceRunner(RunnerContext& context, config::Instance instance);
    // Stops every worker it still has (ftpproxyd is going away at once).
    ~InstanceRunner();
    InstanceRunner(const InstanceRunner&) = delete;
    InstanceRunner& operator=(const InstanceRunner&) = delete;

    const config::Instance& instance() const { return instance_; }
    const Lifecycle& lifecycle() const { return lifecycle_; }
    // Reverse mode: its backends' health (null in forward mode), and the
    // one new sessions go to (an index into instance().backends).
    const BackendMonitor* backends() const { return monitor_.get(); }
    std::size_t chosen_backend() const { return chosen_; }
    // The liveness watch's last word on worker `pid`: whether it answered
    // its control socket in time. A worker not (yet) asked counts as
    // answering. Returns whether that changed what responding() says.
    bool worker_answered(pid_t pid, bool answered);
    bool responding() const { return !(current_ && silent_pid_ == current_->pid()); }
    // Has been RUNNING, and its listening socket has stayed open since.
    bool served_before() const { return served_before_ && listen_; }
    pid_t pid() const { return current_ ? current_->pid() : 0; }  // 0: no worker
    Clock::time_point worker_started() const { return worker_started_; }
    // Workers replaced by a restart or a change, draining their sessions.
    const std::vector<std::unique_ptr<WorkerProcess>>& old_workers() const { return old_; }
    // Every worker process it has, current and old (for status questions).
    std::vector<const WorkerProcess*> processes() const;
    // The counters of its workers that have exited, as each last reported
    // them (metrics: the instance's totals include them).
    const nlohmann::json& exited_workers_counts() const { return exited_counts_; }

    void start();
    void stop();   // sessions get 421; the socket closes (connections are refused)
    void drain();  // sessions finish; the socket closes
    // A new worker now, the old one drains: no connection is refused.
    void restart();
    // Reload, changed instance: new settings, a new worker, the old one drains.
    void replace(config::Instance instance);
    // Reload, unchanged instance: the worker and its sessions go on.
    void update(config::Instance instance) { instance_ = std::move(instance); }
    // Reload removed the instance, or ftpproxyd stops: the socket goes, the
    // worker drains as an old one, nothing starts again. `on_idle` is called
    // (later, from the io_context) once no worker of the runner is left.
    void retire(std::function<void()> on_idle);
    bool idle() const { return !current_ && old_.empty(); }
    // Every worker closes its sessions now (a second SIGTERM).
    void stop_all_now();

    // After start(), restart() or replace(): "" when a worker runs, else
    // "could not start: cannot listen on 127.0.0.1:21: bind: Address
    // already in use (now BACKOFF)".
    std::string start_failure() const;

  private:
    void run(Step step, State before);
    void run_step(Step step, State before);
    void spawn();
    void reaped(pid_t pid, int status);
    void current_exited(pid_t pid, const std::string& reason);
    void retire_current();
    void start_monitor();
    // A backend changed state: new sessions go to the first one that is up
    // (with none up, they stay where they were going).
    void backends_changed();
    void arm_timer(milliseconds delay);
    void cancel_timer();

    RunnerContext& context_;
    config::Instance instance_;
    Lifecycle lifecycle_;
    asio::steady_timer timer_;
    std::uint64_t timer_generation_ = 0;
    Listeners::Socket listen_;  // kept across restarts; let go by stop and drain
    std::unique_ptr<WorkerProcess> current_;
    std::vector<std::unique_ptr<WorkerProcess>> old_;
    Clock::time_point worker_started_{};
    std::function<void()> on_idle_;  // set by retire()
    std::shared_ptr<BackendMonitor> monitor_;
    std::size_t chosen_ = 0;
    pid_t silent_pid_ = 0;  // the worker that last did not answer in time
    nlohmann::json exited_counts_;
    bool served_before_ = false;
};

}  // namespace supervisor
