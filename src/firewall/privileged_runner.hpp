// pfctl for a worker that has given up root (privilege separation, as
// OpenBSD's daemons do it). pfctl needs root and /dev/pf; the worker drops
// to an unprivileged user and chroots right after start. So, while still
// root, it forks a helper that keeps root and does exactly one thing: run
// the configured pfctl with arguments of the three shapes the pf backend
// uses, for the worker at the other end of a socketpair. Anything else is
// refused. The helper exits when the worker's end closes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "firewall/process.hpp"

namespace firewall {

using ProgramRunner =
    std::function<ProgramResult(const std::vector<std::string>&, const std::string&)>;

// Whether the helper may run argv: argv[0] is `pfctl` and the rest is one of
//   -a ftp-proxy -sA
//   -a ftp-proxy/PID.SESSION -f -
//   -a ftp-proxy/PID.SESSION -F rules
bool pfctl_request_allowed(const std::vector<std::string>& argv, const std::string& pfctl);

// Forks the helper (call it while still root, before chroot); returns a
// runner that forwards each request to it. Throws Error.
ProgramRunner start_privileged_runner(const std::string& pfctl);

}  // namespace firewall
