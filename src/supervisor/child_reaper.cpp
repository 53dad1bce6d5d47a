#include "supervisor/child_reaper.hpp"

#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <csignal>

namespace supervisor {

ChildReaper::ChildReaper(asio::io_context& io) : signals_(io, SIGCHLD) {
    wait_for_signal();
}

void ChildReaper::watch(pid_t pid, OnExit on_exit) {
    watched_[pid] = std::move(on_exit);
    // The child may have exited before it was watched: look now as well.
    asio::post(signals_.get_executor(), [this] { reap(); });
}

void ChildReaper::forget(pid_t pid) {
    watched_.erase(pid);
}

void ChildReaper::wait_for_signal() {
    signals_.async_wait([this](error_code error, int) {
        if (error) return;
        reap();
        wait_for_signal();
    });
}

// Signals coalesce: one SIGCHLD may stand for several children.
void ChildReaper::reap() {
    for (;;) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        const auto it = watched_.find(pid);
        if (it == watched_.end()) {
            spdlog::trace("reaped unwatched child {}", pid);
            continue;
        }
        OnExit on_exit = std::move(it->second);
        watched_.erase(it);
        on_exit(status);
    }
}

}  // namespace supervisor
