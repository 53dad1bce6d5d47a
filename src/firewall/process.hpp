// The two things the firewall module needs from other processes: run a
// command with text on its stdin (pfctl), and tell whether the worker that
// left state behind is still alive (stale anchors and tables).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace firewall {

struct ProgramResult {
    int exit_code = -1;  // -1: did not run or was killed by a signal
    std::string output;  // stdout and stderr, interleaved
};

// Starts argv[0] (a path, not searched in PATH) with common::spawn_process(),
// `input` on its stdin and only stdin, stdout and stderr open; waits for it,
// at most `timeout`: a program still running then is
// killed and its result is exit_code -1 with the reason as output. Never
// throws for a failing program, only for failing to start it (Error).
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout);

// How long one pfctl run may take before it is killed. pfctl loads a few
// rules into an anchor in milliseconds; a run this slow is hung (a stuck
// /dev/pf, a stopped process), and a session must not wait on it for good.
inline constexpr std::chrono::milliseconds kPfctlTimeout{15'000};

// True when `pid` is certainly not a worker any more: no such process, or
// (where /proc exists) a process with another name than ours, which is what
// a reused pid looks like. A live worker's state must never be removed.
bool process_is_gone(pid_t pid);

}  // namespace firewall
