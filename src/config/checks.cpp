// Checks that need a whole instance (after defaults are merged) or all of them.
#include <map>
#include <tuple>

#include "config/sections.hpp"

namespace config {

namespace {

std::string family(const common::IpAddress& address) {
    return address.is_v4() ? "IPv4" : "IPv6";
}

std::string instance_label(const InstanceDraft& draft) {
    return draft.has("name") ? "instance '" + draft.instance.name + "'" : "this instance";
}

void check_required(const InstanceDraft& draft, ErrorList& errors) {
    if (!draft.marks.contains("name")) {
        errors.add(draft.at, "this instance has no 'name'");
    }
    if (!draft.marks.contains("listen")) {
        errors.add(draft.at, instance_label(draft) + " has no 'listen' (e.g. 127.0.0.1:8021)");
    }
    if (draft.invalid.contains("mode")) {
        return;  // already reported; which keys the instance needs is unknown
    }
    const Instance& instance = draft.instance;
    if (instance.mode == Mode::reverse && !draft.marks.contains("backend")) {
        errors.add(draft.at, instance_label(draft) +
                                 " is a reverse proxy but has no 'backend' (e.g. 192.0.2.10:21)");
    }
    if (instance.mode == Mode::forward && draft.marks.contains("backend")) {
        errors.add(draft.mark("backend"),
                   "'backend' is only for mode reverse: a forward proxy connects to the server "
                   "each client asked for");
    }
}

void check_firewall_needs(const GlobalSettings& global, const InstanceDraft& draft,
                          ErrorList& errors) {
    const Instance& instance = draft.instance;
    if (global.firewall == Firewall::none || draft.marks.contains("public")) {
        return;
    }
    if (instance.mode == Mode::reverse && !draft.invalid.contains("mode")) {
        errors.add(draft.at, instance_label(draft) +
                                 " has no 'public' address, which the firewall rules send to "
                                 "it (e.g. 198.18.0.1:21)");
    } else if (instance.mode == Mode::forward && !draft.marks.contains("interface")) {
        errors.add(draft.at, instance_label(draft) +
                                 " needs 'interface' or 'public': otherwise the firewall would "
                                 "divert FTP to every destination on every interface");
    }
}

void check_families(const GlobalSettings& global, const InstanceDraft& draft, ErrorList& errors) {
    const Instance& instance = draft.instance;
    // Strict on purpose, the unspecified address included: OpenBSD has no
    // dual-stack sockets, so "[::]" cannot take IPv4 connections there.
    if (draft.has("listen") && draft.has("public") &&
        instance.listen_address.is_v4() != instance.public_address->is_v4()) {
        const std::string port = std::to_string(instance.listen_port);
        errors.add(
            draft.mark("public"),
            "'public' " + instance.public_address->to_string() + " is " +
                family(*instance.public_address) + " but 'listen' " +
                instance.listen_address.to_string() + " is " + family(instance.listen_address) +
                ": the firewall cannot divert a connection to another family (e.g. "
                "listen: " +
                (instance.public_address->is_v6() ? "\"[::]:" + port + "\"" : "127.0.0.1:" + port) +
                ")");
    }
    if (global.firewall == Firewall::nftables && draft.has("listen") &&
        instance.listen_address.is_v6() && instance.listen_address.is_loopback()) {
        errors.add(draft.mark("listen"),
                   "'listen' ::1 cannot be reached through nftables (Linux cannot dnat to ::1); "
                   "listen on \"[::]:" +
                       std::to_string(instance.listen_port) + "\" instead");
    }
    if (draft.has("source") && draft.has("backend")) {
        for (const Backend& listed : instance.backends) {
            const auto backend = common::parse_ip_address(listed.host);
            if (backend && backend->is_v4() != instance.source_address->is_v4()) {
                errors.add(draft.mark("source"),
                           "'source' " + instance.source_address->to_string() + " is " +
                               family(*instance.source_address) + " but 'backend' " +
                               backend->to_string() + " is " + family(*backend));
            }
        }
    }
}

}  // namespace

// Only a pipe size written here counts: one from 'defaults' is simply not
// passed to an instance that chose relay: copy.
void check_relay(const InstanceDraft& draft, ErrorList& errors) {
    if (!draft.own.contains("relay_pipe_size") || !draft.has("relay_pipe_size") ||
        draft.invalid.contains("relay") || draft.instance.relay != Relay::copy) {
        return;
    }
    const std::string relay = draft.has("relay")
                                  ? "'relay': copy (" + describe_line(draft.mark("relay")) + ")"
                                  : "'relay': copy (the default here: splice(2) exists only on "
                                    "Linux)";
    errors.add(draft.mark("relay_pipe_size"),
               "'relay_pipe_size' has no effect with " + relay + ": only splice uses a pipe");
}

// The kernel data path is built on nftables so far; the worker would
// refuse anything else at start, so the file is refused first.
void check_data_path(const GlobalSettings& global, const InstanceDraft& draft, ErrorList& errors) {
    const Instance& instance = draft.instance;
    if (!draft.has("data_path") || instance.data_path != DataPath::kernel) {
        return;
    }
    if (global.firewall == Firewall::pf) {
        errors.add(draft.mark("data_path"),
                   "'data_path': kernel needs nftables (Linux); with firewall: pf the workers "
                   "relay (data_path: relay)");
    }
}

void check_instance(const GlobalSettings& global, const InstanceDraft& draft, ErrorList& errors) {
    check_required(draft, errors);
    check_data_path(global, draft, errors);
    check_firewall_needs(global, draft, errors);
    check_families(global, draft, errors);
    check_relay(draft, errors);
}

void check_instances(const std::vector<InstanceDraft>& drafts, ErrorList& errors) {
    std::map<std::string, const InstanceDraft*> names;
    std::map<std::uint16_t, const InstanceDraft*> listen_ports;
    // What the firewall matches on: two instances with the same match would
    // make the second rule dead.
    using PublicKey = std::tuple<std::string, std::uint16_t, std::string>;
    std::map<PublicKey, const InstanceDraft*> publics;

    for (const InstanceDraft& draft : drafts) {
        const Instance& instance = draft.instance;
        if (draft.has("name")) {
            const auto [first, inserted] = names.emplace(instance.name, &draft);
            if (!inserted) {
                errors.add(draft.mark("name"), "instance name '" + instance.name +
                                                   "' is already used at " +
                                                   describe_line(first->second->mark("name")));
            }
        }
        if (draft.has("listen")) {
            const auto [first, inserted] = listen_ports.emplace(instance.listen_port, &draft);
            if (!inserted) {
                errors.add(draft.mark("listen"),
                           "listen port " + std::to_string(instance.listen_port) +
                               " is already used by " + instance_label(*first->second) + " (" +
                               describe_line(first->second->mark("listen")) + ")");
            }
        }
        if (draft.has("public") || (instance.mode == Mode::forward && draft.has("interface"))) {
            const std::string address =
                instance.public_address ? instance.public_address->to_string() : "any";
            const PublicKey key{address, instance.public_port, instance.interface};
            const auto [first, inserted] = publics.emplace(key, &draft);
            if (!inserted) {
                errors.add(draft.mark(draft.has("public") ? "public" : "interface"),
                           "connections to " +
                               common::format_host_port(address, instance.public_port) +
                               (instance.interface.empty() ? "" : " on " + instance.interface) +
                               " already go to " + instance_label(*first->second) + " (" +
                               describe_line(first->second->at) + ")");
            }
        }
    }

    // A passive range that covers a listen port would let a data listener
    // take the port a worker needs (or fail to bind at random).
    for (const InstanceDraft& draft : drafts) {
        if (!draft.has("passive_ports")) {
            continue;
        }
        const common::PortRange range = *draft.instance.passive_ports;
        for (const auto& [port, owner] : listen_ports) {
            if (port >= range.low && port <= range.high) {
                errors.add(draft.mark("passive_ports"),
                           "'passive_ports' " + std::to_string(range.low) + "-" +
                               std::to_string(range.high) + " include listen port " +
                               std::to_string(port) + " of " + instance_label(*owner));
                break;
            }
        }
    }
}

// The handoff keeps the client's side of a session on the node it began on;
// the server's side leaves from `source`, which would be a VIP in a file all
// nodes share, and that leg would break when the VIP moves.
void check_handoff(const ClusterSettings& cluster, const YAML::Mark& at,
                   const std::vector<InstanceDraft>& drafts, ErrorList& errors) {
    if (cluster.handoff_nodes.empty()) return;
    bool shared = false;
    for (const InstanceDraft& draft : drafts) {
        const Instance& instance = draft.instance;
        if (instance.mode != Mode::reverse) continue;
        if (draft.has("source")) {
            errors.add(
                draft.mark("source"),
                instance_label(draft) +
                    ": 'source' with cluster.handoff: the server's "
                    "side of a session would break when the address moves; leave 'source' out "
                    "(each node then uses its own address toward the server)");
        }
        const auto& address = instance.listen_address;
        if (!address.is_unspecified() && !address.is_loopback()) shared = true;
    }
    if (!shared && !drafts.empty()) {
        errors.add(at,
                   "cluster.handoff: no reverse instance listens on a shared address "
                   "(a VIP); forward-mode sessions are not handed off");
    }
}

}  // namespace config
