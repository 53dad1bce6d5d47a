// One instance -> the ftp-proxy command line ftpproxyd runs for it, with the
// worker's flags as docs/ftp-proxy.md documents them.
#pragma once

#include <string>
#include <vector>

#include "config/model.hpp"

namespace config {

// ftpproxyd binds the listen socket and passes it down as this descriptor,
// so a restarted worker never closes it (see ARCHITECTURE.md).
inline constexpr int kWorkerListenFd = 3;

// argv[0] is global.worker_binary. Every setting is passed explicitly, the
// defaults too, so a worker's own defaults never decide anything. `backend`
// indexes instance.backends: the one the worker starts with (ftpproxyd
// picks the first healthy one; it tells a running worker about changes over
// its control channel). `handoff`: cluster.handoff is on, and a reverse
// instance's worker gets --handoff.
std::vector<std::string> worker_argv(const GlobalSettings& global, const Instance& instance,
                                     std::size_t backend = 0, bool handoff = false);

}  // namespace config
