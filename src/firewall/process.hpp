// The two things the firewall module needs from other processes: run a
// command with text on its stdin (pfctl), and tell whether the worker that
// left state behind is still alive (stale anchors and tables).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace firewall {

struct ProgramResult {
    int exit_code = -1;  // -1: did not run or was killed by a signal
    std::string output;  // stdout and stderr, interleaved
};

// fork+exec argv[0] (a path, not searched in PATH) with `input` on its
// stdin; waits for it. Never throws for a failing program, only for
// failing to start it (Error).
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input);

// True when `pid` is certainly not a worker any more: no such process, or
// (where /proc exists) a process with another name than ours, which is what
// a reused pid looks like. A live worker's state must never be removed.
bool process_is_gone(pid_t pid);

}  // namespace firewall
