// One configured instance: its listening socket, its current worker and the
// Lifecycle that decides when that worker is started again. The processes
// themselves belong to a WorkerHost (the Supervisor), which reports their
// exits back here; a worker that is replaced (restart, changed
// configuration) is handed back to the host to drain on its own.
#pragma once

#include <sys/types.h>

#include "common/unique_fd.hpp"
#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/lifecycle.hpp"

namespace supervisor {

class InstanceRunner;

class WorkerHost {
  public:
    struct Started {
        pid_t pid = -1;     // > 0 on success
        std::string error;  // why not
    };
    enum class Retire { drain, stop };

    virtual ~WorkerHost() = default;
    // Runs a worker for `runner` on `listen_fd`; its exit is reported with
    // runner.worker_exited() unless it has been retired by then.
    virtual Started start_worker(InstanceRunner& runner, int listen_fd) = 0;
    virtual void drain_worker(pid_t pid) = 0;
    virtual void stop_worker(pid_t pid) = 0;
    // The worker is no longer the runner's: it drains (or stops) on its own.
    virtual void retire_worker(pid_t pid, Retire how) = 0;
    // A socket already listening on address:port that another instance gave
    // up during a reload, if there is one.
    virtual common::UniqueFd take_spare_listener(const common::IpAddress& address,
                                                 std::uint16_t port) = 0;
};

class InstanceRunner {
  public:
    InstanceRunner(asio::io_context& io, WorkerHost& host, config::Instance instance,
                   RestartPolicy policy = {});
    // A runner that goes away retires its worker (graceful drain).
    ~InstanceRunner();
    InstanceRunner(const InstanceRunner&) = delete;
    InstanceRunner& operator=(const InstanceRunner&) = delete;

    const config::Instance& instance() const { return instance_; }
    const Lifecycle& lifecycle() const { return lifecycle_; }
    pid_t pid() const { return pid_; }  // 0: no worker
    Clock::time_point worker_started() const { return worker_started_; }

    void start();
    void stop();   // sessions get 421; the socket closes (connections are refused)
    void drain();  // sessions finish; the socket closes
    // A new worker now, the old one drains: no connection is refused.
    void restart();
    // Reload, changed instance: new settings, a new worker, the old one drains.
    void replace(config::Instance instance);
    // Reload, unchanged instance: the worker and its sessions go on.
    void update(config::Instance instance) { instance_ = std::move(instance); }

    void worker_exited(pid_t pid, const std::string& reason);
    // After start(), restart() or replace(): "" when a worker runs, else
    // "could not start: cannot listen on 127.0.0.1:21: bind: Address
    // already in use (now BACKOFF)".
    std::string start_failure() const;
    // Gives up the listening socket (reload: the port goes elsewhere).
    common::UniqueFd release_listener() { return std::move(listen_); }

  private:
    void run(Step step, State before);
    void spawn();
    void retire_current(WorkerHost::Retire how);
    bool ensure_listening(std::string& error);
    void close_listener() { listen_.reset(); }
    void arm_timer(milliseconds delay);
    void cancel_timer();

    WorkerHost& host_;
    config::Instance instance_;
    Lifecycle lifecycle_;
    asio::steady_timer timer_;
    std::uint64_t timer_generation_ = 0;
    common::UniqueFd listen_;  // kept across restarts; closed by stop and drain
    pid_t pid_ = 0;
    Clock::time_point worker_started_{};
};

}  // namespace supervisor
