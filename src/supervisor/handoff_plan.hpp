// Session handoff between the two nodes of a cluster (Linux): after a VIP
// has moved, the node that holds it passes every segment that belongs to a
// connection of the peer's on to the peer, unchanged (nftables `dup`, as an
// LVS direct-routing director does), and the peer, whose workers' sockets
// still carry the VIP (IP_TRANSPARENT, worker --handoff), takes them in. So
// sessions that began on the old master run to their end there while new
// ones land on the new master. docs/design.md says why it is built so.
//
// Pure: the plan from the configuration and this node's interfaces, and the
// nftables text and `ip` commands that set it up (tests/unit/supervisor).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/net_address.hpp"

namespace supervisor::handoff {

// Packets for a VIP this node does not hold, which may belong to one of its
// sessions, carry this mark; a rule sends them to table kTable, where every
// address is local (the TPROXY recipe).
inline constexpr std::uint32_t kMark = 0x46500001;  // "FP"
inline constexpr int kTable = 4650;
inline constexpr int kRulePriority = 4650;
inline constexpr std::string_view kNftTable = "ftpproxy_handoff";
inline constexpr std::string_view kIpBinary = "/sbin/ip";

// One address of this node, as getifaddrs() reports it.
struct LocalAddress {
    std::string interface;
    common::IpAddress address;
    unsigned prefix = 0;  // netmask length
};

// A shared address and the FTP ports clients reach on it.
struct SharedAddress {
    common::IpAddress address;
    std::vector<std::uint16_t> control_ports;
};

// Where the segments of the peer's connections to `vip` go.
struct Route {
    SharedAddress vip;
    common::IpAddress peer;
    std::string interface;  // the link the VIP and the peer share
};

struct Plan {
    // This node's entries of `nodes` (one per family on a dual-stack link).
    std::vector<common::IpAddress> self;
    std::vector<Route> routes;
    std::string error;  // empty: the plan is complete
};

// nodes: cluster.handoff.nodes (every node's own address, the same list on
// each). Each VIP needs exactly one other node on the link where this node
// has an address in the VIP's subnet.
Plan make_plan(const std::vector<common::IpAddress>& nodes, const std::vector<SharedAddress>& vips,
               const std::vector<LocalAddress>& local);

// The nftables script (one transaction, replacing an earlier table of ours)
// for one family; empty when the plan has no VIP of that family.
std::string nft_script(const Plan& plan, bool v4);
// Removes both families' tables, whether they exist or not.
std::string nft_remove_script();

// `ip` commands (argv) that install the rule and the local route per family
// used, and those that remove them (each may fail when already gone).
std::vector<std::vector<std::string>> ip_install_commands(const Plan& plan);
std::vector<std::vector<std::string>> ip_remove_commands(bool v4);

// "198.18.11.1 -> 198.18.11.12 (lan)" per route, for logs and status.
std::string describe(const Route& route);

}  // namespace supervisor::handoff
