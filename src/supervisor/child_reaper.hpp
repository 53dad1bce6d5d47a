// Collects every child's exit (SIGCHLD + waitpid) and tells whoever watches
// that pid. One per process, created before the first child.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>

#include "supervisor/asio.hpp"

namespace supervisor {

class ChildReaper {
  public:
    using OnExit = std::function<void(int wait_status)>;

    explicit ChildReaper(asio::io_context& io);
    // `on_exit` runs once, from the io_context, when `pid` has exited.
    void watch(pid_t pid, OnExit on_exit);
    void forget(pid_t pid);

  private:
    void wait_for_signal();
    void reap();

    asio::signal_set signals_;
    std::map<pid_t, OnExit> watched_;
};

}  // namespace supervisor
