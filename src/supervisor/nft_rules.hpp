// nftables file for Linux. Loading it with `nft -f` replaces table inet
// ftpproxy, and nothing else, in one transaction. Per instance, a nat
// prerouting rule sends connections to the public address and port to the
// worker's listen port:
//   listen 0.0.0.0 / [::]  -> "redirect to :PORT" (to the address of the
//                             incoming interface, which the worker covers)
//   listen 127.0.0.1 etc.  -> "dnat ip to 127.0.0.1:PORT", which needs
//                             net.ipv4.conf.IF.route_localnet=1
//   listen another address -> "dnat ip|ip6 to ADDR:PORT"
// An input chain lets only such diverted connections (or local ones) reach
// the workers' ports. docs/configuration.md explains the choices.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "supervisor/config_model.hpp"

namespace supervisor {

inline constexpr std::string_view kNftTable = "inet ftpproxy";

// The prerouting rules of one instance; empty when it has neither a public
// address nor a forward-mode interface (possible only with firewall: none).
std::vector<std::string> nft_instance_rules(const Instance& instance);

std::string render_nft_rules(const std::vector<Instance>& instances);

}  // namespace supervisor
