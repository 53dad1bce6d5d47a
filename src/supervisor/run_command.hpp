// Runs a command (the firewall's reload) without a shell and without
// blocking the supervisor: its output is collected, its run time bounded.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "supervisor/asio.hpp"
#include "supervisor/child_reaper.hpp"

namespace supervisor {

struct CommandResult {
    bool ok = false;     // exited with 0
    std::string status;  // "exit 1", "killed by SIGKILL", "timed out after 30 s", "cannot run ..."
    std::string output;  // stdout and stderr, at most kMaxCommandOutput bytes
};

inline constexpr std::size_t kMaxCommandOutput = 4096;

awaitable<CommandResult> run_command(ChildReaper& reaper, std::vector<std::string> argv,
                                     std::chrono::seconds timeout);

// "/usr/sbin/nft -f /etc/x.nft"
std::string join_command(const std::vector<std::string>& argv);

}  // namespace supervisor
