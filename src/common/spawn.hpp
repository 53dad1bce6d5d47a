// Every program this product starts (ftpproxyd's workers and commands, the
// worker's pfctl) is started here: fork + exec with an exact set of
// descriptors. The child gets the listed descriptors at the listed numbers
// and nothing else (every other descriptor is closed before exec, whether or
// not it was close-on-exec).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace common {

struct FdMapping {
    int parent_fd;  // in this process
    int child_fd;   // the number the child sees it as
};

struct SpawnResult {
    pid_t pid = -1;     // > 0 on success
    std::string error;  // set when the program could not be started
};

// Starts argv[0] (an absolute path, not searched in PATH) with the descriptors
// in `fds`; descriptors 0-2 are inherited unless `fds` maps them. The child
// runs in its own session with default signal handling. Returns once exec has
// succeeded or failed: a missing or non-executable program is an error here,
// not an exit status later.
SpawnResult spawn_process(const std::vector<std::string>& argv, const std::vector<FdMapping>& fds);

// A wait() status as a person reads it: "exit 0", "exit 71 (...)",
// "killed by SIGKILL".
std::string describe_wait_status(int status);

}  // namespace common
