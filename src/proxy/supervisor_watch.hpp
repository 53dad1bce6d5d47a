// A worker started by ftpproxyd drains when ftpproxyd dies.
//
// ftpproxyd normally stops its workers itself (and systemd's KillMode=mixed
// does it when ftpproxyd is killed). Killed outside systemd, it left workers
// holding their listen sockets, and the next ftpproxyd could not bind the
// same ports. Now the kernel tells the worker (parent-death signal), and the
// worker drains: running sessions go on, the listener closes at once, the
// worker exits after its last session.
#pragma once

#include <sys/types.h>

namespace proxy {

// Arms the parent-death signal (SIGUSR1: the worker's drain) for `supervisor`,
// the parent the worker had when it started. Must run after the privileges
// are dropped (a change of uid clears the setting) and after the worker's
// SIGUSR1 handler exists. If the supervisor died before this call, the drain
// starts now. A no-op where the system has no parent-death signal (OpenBSD).
void drain_when_supervisor_dies(pid_t supervisor);

}  // namespace proxy
