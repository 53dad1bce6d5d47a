// The nftables text the backend hands to libnftables: pure functions, so the
// exact ruleset is testable without root (tests/unit/firewall/golden/).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "firewall/firewall.hpp"

namespace firewall::nft {

// One table per worker process, `ftpproxy_<instance>_<pid>`: the pid keeps
// an old worker that drains its sessions during a reload and its successor
// (same instance) from touching each other's state. Characters nft does not
// take in a name become '_'. Throws Error for an empty or overlong instance.
std::string table_name(const std::string& instance, pid_t pid);

// A table of ours left by a dead worker: its name and pid.
struct TableOwner {
    std::string table;
    pid_t pid = 0;
};

// The tables of this instance in `nft list tables inet` output.
std::vector<TableOwner> instance_tables(const std::string& listing, const std::string& instance);

// Creates the table, replacing one of the same name atomically (nft 1.0.6
// has no `destroy table`: add-empty + delete + define, in one transaction).
// With `log` (-v) each expected connection's first packet is logged.
// With `kernel_mark`, the kernel data path's sets, maps and rules too
// (forward_in_kernel(): a connection matching an armed element disarms it,
// is marked and translated; the mark then selects its source NAT).
std::string create_script(const std::string& table, const std::string& instance, pid_t pid,
                          bool log, std::optional<std::uint32_t> kernel_mark = std::nullopt);

// Deletes the table; succeeds when it is already gone.
std::string delete_script(const std::string& table);

// One set/map element: `key` for sets, `key : value` for maps.
struct Element {
    std::string set;    // pasv4, pasv6, act4, act6, snat4, snat6, karm4, kdnat4, ksnat4, ...
    std::string key;    // "198.18.0.2 . 198.18.1.2 . 50001"
    std::string value;  // the redirect port or source address (maps only)
};

// Throw Error for a zero port or mixed address families.
Element passive_element(const PassiveExpectation& expectation);
Element active_element(const ActiveExpectation& expectation);
// The proxy's own connection FROM . TO . PORT leaves with source nat_to.
// Also throws for a leg without nat_to or with an unspecified `from`.
Element source_nat_element(const OnwardLeg& leg);

// The kernel data path's three elements for one connection: armed (the
// single use), the destination translation, the source translation. Throws
// Error for a zero port or mixed address families (the kernel cannot
// translate between IPv4 and IPv6).
std::vector<Element> kernel_elements(const KernelForwarding& forwarding);

// `add element` with the timeout and a comment naming the session, so that
// `nft list table` shows whose each element is.
std::string add_command(const std::string& table, const Element& element,
                        std::chrono::seconds timeout, std::uint64_t session);

// Removes the element whether or not it already expired: nft 1.0.6 has no
// `destroy element`, and `delete` of a missing element fails the whole
// transaction, so the element is first (re)added, then deleted.
std::string remove_commands(const std::string& table, const Element& element);

}  // namespace firewall::nft
