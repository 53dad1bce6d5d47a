// One running ftp-proxy worker: started with fork+exec, the listening socket
// as descriptor 3 and a control socketpair as descriptor 4, and every other
// descriptor closed. Asking it to go (drain, stop) is bounded: each request
// is followed by a harder one when the worker does not exit in time, ending
// with SIGKILL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/asio.hpp"
#include "supervisor/lifecycle.hpp"
#include "supervisor/worker_control.hpp"

namespace supervisor {

// See worker_argv.hpp for descriptor 3.
inline constexpr int kWorkerControlFd = 4;
// After SIGTERM a worker sends 421 and gives its sessions 5 s to flush it;
// then SIGKILL.
inline constexpr std::chrono::seconds kStopGrace{10};

// A worker's wait() status as a person reads it, with the meaning of its
// exit code: "exit 71 (cannot listen or drop privileges)", "killed by SIGKILL".
std::string describe_worker_exit(int status);

class WorkerProcess;

struct WorkerStart {
    std::unique_ptr<WorkerProcess> worker;  // set on success
    std::string error;                      // "cannot run /x/ftp-proxy: No such file..."
};

class WorkerProcess {
  public:
    // `argv` is the worker's command line without the control descriptor,
    // which is added here.
    static WorkerStart start(asio::io_context& io, std::vector<std::string> argv, int listen_fd);

    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;
    ~WorkerProcess();

    pid_t pid() const { return pid_; }
    Clock::time_point started() const { return started_; }
    const std::shared_ptr<WorkerControl>& control() const { return control_; }
    Clock::time_point deadline() const { return deadline_; }  // while draining

    // Stop accepting, let the sessions end (SIGUSR1); stop() after `timeout`.
    void drain(std::chrono::seconds timeout);
    // Close the sessions with a 421 (SIGTERM); SIGKILL after kStopGrace.
    void stop();
    // The process is gone (reaped): no more signals to its pid.
    void exited();

  private:
    WorkerProcess(asio::io_context& io, pid_t pid, std::shared_ptr<WorkerControl> control);
    void send(int signal);
    void escalate_after(std::chrono::seconds delay, void (WorkerProcess::*next)());
    void kill();

    pid_t pid_;
    Clock::time_point started_;
    std::shared_ptr<WorkerControl> control_;
    asio::steady_timer timer_;
    Clock::time_point deadline_{};
    bool draining_ = false;
    bool stopping_ = false;
    bool exited_ = false;
};

}  // namespace supervisor
