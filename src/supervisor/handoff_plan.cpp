#include "supervisor/handoff_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace supervisor::handoff {

namespace {

using common::IpAddress;

// The address as bytes: 4 for IPv4, 16 for IPv6.
std::vector<unsigned char> bytes_of(const IpAddress& address) {
    if (address.is_v4()) {
        const auto b = address.to_v4().to_bytes();
        return {b.begin(), b.end()};
    }
    const auto b = address.to_v6().to_bytes();
    return {b.begin(), b.end()};
}

bool same_subnet(const IpAddress& a, const IpAddress& b, unsigned prefix) {
    if (a.is_v4() != b.is_v4()) return false;
    const auto x = bytes_of(a);
    const auto y = bytes_of(b);
    prefix = std::min<unsigned>(prefix, static_cast<unsigned>(x.size() * 8));
    for (unsigned bit = 0; bit < prefix; ++bit) {
        const unsigned mask = 0x80u >> (bit % 8);
        if ((x[bit / 8] & mask) != (y[bit / 8] & mask)) return false;
    }
    return true;
}

bool is_local(const IpAddress& address, const std::vector<LocalAddress>& local) {
    return std::any_of(local.begin(), local.end(),
                       [&](const LocalAddress& own) { return own.address == address; });
}

std::string family_word(bool v4) {
    return v4 ? "ip" : "ip6";
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

}  // namespace

Plan make_plan(const std::vector<IpAddress>& nodes, const std::vector<SharedAddress>& vips,
               const std::vector<LocalAddress>& local) {
    Plan plan;
    for (const auto& node : nodes)
        if (is_local(node, local)) plan.self.push_back(node);
    std::vector<std::string> listed;
    for (const auto& node : nodes) listed.push_back(node.to_string());
    if (plan.self.empty()) {
        plan.error =
            "none of cluster.handoff.nodes (" + join(listed) + ") is an address of this node";
        return plan;
    }
    for (const SharedAddress& vip : vips) {
        // The link: where this node has an address (not a VIP) in the VIP's subnet.
        const auto link = std::find_if(local.begin(), local.end(), [&](const LocalAddress& own) {
            const bool shared = std::any_of(
                vips.begin(), vips.end(), [&](const auto& v) { return v.address == own.address; });
            return !shared && same_subnet(own.address, vip.address, own.prefix);
        });
        if (link == local.end()) {
            plan.error = "no interface of this node has an address in the subnet of " +
                         vip.address.to_string() + ": the peer could not be reached on its link";
            return plan;
        }
        std::vector<IpAddress> peers;
        for (const auto& node : nodes)
            if (!is_local(node, local) && same_subnet(node, link->address, link->prefix))
                peers.push_back(node);
        if (peers.size() != 1) {
            plan.error = fmt::format(
                "{} of cluster.handoff.nodes ({}) is on {}'s link ({}/{}, interface {}): "
                "exactly one peer is needed there",
                peers.empty() ? "no other" : "more than one other", join(listed),
                vip.address.to_string(), link->address.to_string(), link->prefix, link->interface);
            return plan;
        }
        plan.routes.push_back({vip, peers.front(), link->interface});
    }
    return plan;
}

// Order of the checks, for a TCP segment to a VIP:
// * This node does not hold the VIP (it moved): a SYN for a control port
//   is a new session, routed as usual (to the holder); anything else may
//   belong to a session begun here, and is taken in (mark -> local table):
//   a socket here gets it, or the kernel answers with a reset.
// * This node holds it: a segment that is not a SYN and that conntrack sees
//   for the first time belongs to a connection that began on the peer; a
//   segment no socket here wants (a data connection of the peer's, a
//   SYN-ACK to its active-mode connection) too. Both are duplicated to the
//   peer, unchanged, and the original dropped.
std::string nft_script(const Plan& plan, bool v4) {
    std::vector<std::string> vips;
    std::vector<std::string> controls;
    std::string dups;
    for (const Route& route : plan.routes) {
        if (route.vip.address.is_v4() != v4) continue;
        const std::string vip = route.vip.address.to_string();
        vips.push_back(vip);
        for (const auto port : route.vip.control_ports)
            controls.push_back(vip + " . " + std::to_string(port));
        dups += fmt::format("        {} daddr {} dup to {} device \"{}\"\n", family_word(v4), vip,
                            route.peer.to_string(), route.interface);
    }
    if (vips.empty()) return "";
    const std::string family = family_word(v4);
    const std::string table = family + " " + std::string(kNftTable);
    const std::string type = v4 ? "ipv4_addr" : "ipv6_addr";
    std::string control_set;
    if (!controls.empty())
        control_set = fmt::format(
            "    set control {{\n        type {} . inet_service\n        elements = {{ {} }}\n"
            "    }}\n",
            type, join(controls));
    const std::string new_session =
        controls.empty()
            ? ""
            : fmt::format(
                  "        {} daddr . tcp dport @control tcp flags & (syn | ack) == syn "
                  "return\n",
                  family);
    return fmt::format(
        "table {0} {{}}\n"
        "delete table {0}\n"
        "table {0} {{\n"
        "    set shared {{\n        type {1}\n        elements = {{ {2} }}\n    }}\n"
        "{3}"
        "    chain prerouting {{\n"
        "        type filter hook prerouting priority mangle; policy accept;\n"
        "        meta l4proto != tcp return\n"
        "        {4} daddr != @shared return\n"
        "        fib daddr type local goto holder\n"
        "{5}"
        "        meta mark set {6:#x}\n"
        "    }}\n"
        "    chain holder {{\n"
        "        tcp flags & (syn | ack) != syn ct state new goto to_peer\n"
        "        socket transparent 0 return\n"
        "        socket transparent 1 return\n"
        "        goto to_peer\n"
        "    }}\n"
        "    chain to_peer {{\n"
        "{7}"
        "        drop\n"
        "    }}\n"
        "}}\n",
        table, type, join(vips), control_set, family, new_session, kMark, dups);
}

std::string nft_remove_script() {
    std::string script;
    for (const char* family : {"ip", "ip6"}) {
        const std::string table = std::string(family) + " " + std::string(kNftTable);
        script += "table " + table + " {}\ndelete table " + table + "\n";
    }
    return script;
}

std::vector<std::vector<std::string>> ip_install_commands(const Plan& plan) {
    std::vector<std::vector<std::string>> commands;
    for (const bool v4 : {true, false}) {
        const bool used = std::any_of(plan.routes.begin(), plan.routes.end(),
                                      [v4](const Route& r) { return r.vip.address.is_v4() == v4; });
        if (!used) continue;
        const std::string family = v4 ? "-4" : "-6";
        commands.push_back({std::string(kIpBinary), family, "rule", "add", "pref",
                            std::to_string(kRulePriority), "fwmark", fmt::format("{:#x}", kMark),
                            "lookup", std::to_string(kTable)});
        commands.push_back({std::string(kIpBinary), family, "route", "replace", "local",
                            v4 ? "0.0.0.0/0" : "::/0", "dev", "lo", "table",
                            std::to_string(kTable)});
    }
    return commands;
}

std::vector<std::vector<std::string>> ip_remove_commands(bool v4) {
    const std::string family = v4 ? "-4" : "-6";
    return {{std::string(kIpBinary), family, "rule", "del", "pref", std::to_string(kRulePriority)},
            {std::string(kIpBinary), family, "route", "flush", "table", std::to_string(kTable)}};
}

std::string describe(const Route& route) {
    return route.vip.address.to_string() + " -> " + route.peer.to_string() + " (" +
           route.interface + ")";
}

}  // namespace supervisor::handoff
