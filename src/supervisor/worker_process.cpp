#include "supervisor/worker_process.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/spawn.hpp"
#include "common/worker_exit_codes.hpp"
#include "config/worker_argv.hpp"

namespace supervisor {

WorkerStart WorkerProcess::start(asio::io_context& io, std::vector<std::string> argv,
                                 int listen_fd) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        return {nullptr, std::string("socketpair: ") + std::strerror(errno)};
    }
    common::UniqueFd ours(pair[0]);
    common::UniqueFd theirs(pair[1]);
    argv.insert(argv.end(), {"--control-fd", std::to_string(kWorkerControlFd)});
    const common::SpawnResult spawned = common::spawn_process(
        argv, {{listen_fd, config::kWorkerListenFd}, {theirs.get(), kWorkerControlFd}});
    if (spawned.pid < 0) return {nullptr, spawned.error};
    auto control = std::make_shared<WorkerControl>(io, std::move(ours));
    return {std::unique_ptr<WorkerProcess>(new WorkerProcess(io, spawned.pid, std::move(control))),
            {}};
}

WorkerProcess::WorkerProcess(asio::io_context& io, pid_t pid,
                             std::shared_ptr<WorkerControl> control)
    : pid_(pid), started_(Clock::now()), control_(std::move(control)), timer_(io) {}

WorkerProcess::~WorkerProcess() {
    control_->close();
}

void WorkerProcess::send(int signal) {
    if (exited_) return;
    if (::kill(pid_, signal) != 0 && errno != ESRCH) {
        spdlog::error("cannot signal worker {}: {}", pid_, std::strerror(errno));
    }
}

void WorkerProcess::escalate_after(std::chrono::seconds delay, void (WorkerProcess::*next)()) {
    timer_.expires_after(delay);
    timer_.async_wait([this, next](error_code error) {
        if (!error && !exited_) (this->*next)();
    });
}

void WorkerProcess::drain(std::chrono::seconds timeout) {
    if (draining_ || stopping_ || exited_) return;
    draining_ = true;
    deadline_ = Clock::now() + timeout;
    if (!control_->send_drain()) send(SIGUSR1);
    escalate_after(timeout, &WorkerProcess::stop);
}

void WorkerProcess::stop() {
    if (stopping_ || exited_) return;
    if (draining_) {
        spdlog::warn("worker {} still has sessions after the drain timeout: closing them", pid_);
    }
    stopping_ = true;
    draining_ = true;
    deadline_ = Clock::now() + kStopGrace;
    send(SIGTERM);
    escalate_after(kStopGrace, &WorkerProcess::kill);
}

void WorkerProcess::kill() {
    spdlog::warn("worker {} did not exit {} s after SIGTERM: SIGKILL", pid_, kStopGrace.count());
    send(SIGKILL);
}

void WorkerProcess::exited() {
    exited_ = true;
    timer_.cancel();
    control_->close();
}

std::string describe_worker_exit(int status) {
    std::string text = common::describe_wait_status(status);
    if (!WIFEXITED(status)) return text;
    // The worker's own message went to the log.
    const std::string_view meaning = common::worker_exit_meaning(WEXITSTATUS(status));
    if (meaning.empty()) return text;
    return text + " (" + std::string(meaning) + ")";
}

}  // namespace supervisor
