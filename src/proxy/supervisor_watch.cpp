#include "proxy/supervisor_watch.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

namespace proxy {

void drain_when_supervisor_dies(pid_t supervisor) {
#if defined(__linux__) || defined(__FreeBSD__)
#if defined(__linux__)
    const bool armed = ::prctl(PR_SET_PDEATHSIG, SIGUSR1) == 0;
#else
    int drain_signal = SIGUSR1;
    const bool armed = ::procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &drain_signal) == 0;
#endif
    if (!armed) {
        spdlog::warn("cannot ask to be told when ftpproxyd exits: {}", std::strerror(errno));
        return;
    }
    // Died between our start and the call above: nobody will signal us.
    if (::getppid() != supervisor) {
        spdlog::warn("ftpproxyd (pid {}) is gone: draining", supervisor);
        ::kill(::getpid(), SIGUSR1);
    }
#else
    (void)supervisor;
#endif
}

}  // namespace proxy
