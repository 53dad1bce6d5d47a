// Puts the rules of a configuration into effect: writes global.rules_file
// atomically, then runs global.reload_command. The outcome is kept for
// status and returned to `ftpproxyctl reload`.
#pragma once

#include <chrono>
#include <string>

#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/child_reaper.hpp"

namespace supervisor {

// pfctl and nft take milliseconds; a firewall command that hangs must not
// hold a reload forever.
inline constexpr std::chrono::seconds kFirewallCommandTimeout{30};

struct FirewallResult {
    bool ok = true;
    std::string message;  // what was done, or what failed and why
    std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

// `config` by value: the caller's may change while the command runs.
awaitable<FirewallResult> update_firewall(ChildReaper& reaper, config::Config config);

// What ftpproxyd leaves behind when it stops, so that no rule diverts to a
// closed port: nftables, no table inet ftpproxy; pf, the anchors only (the
// include in pf.conf still loads).
awaitable<FirewallResult> clear_firewall(ChildReaper& reaper, config::Config config);

}  // namespace supervisor
