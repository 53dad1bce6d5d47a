// The supervisor's nftables file for Linux. Loading it with `nft -f` replaces
// table inet ftpproxy, and nothing else, in one transaction. Per instance, a
// nat prerouting rule sends connections to the public address and port to
// the worker's listen port:
//   listen 0.0.0.0 / [::]  -> "redirect to :PORT" (to the address of the
//                             incoming interface, which the worker covers)
//   listen 127.0.0.1 etc.  -> "dnat ip to 127.0.0.1:PORT", which needs
//                             net.ipv4.conf.IF.route_localnet=1
//   listen another address -> "dnat ip|ip6 to ADDR:PORT"
// An input chain lets only such diverted connections (or local ones) reach
// the workers' ports. docs/configuration.md explains the choices. (The
// worker's per-session tables are nft_commands.hpp.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/fragment.hpp"

namespace firewall {

inline constexpr std::string_view kNftFragmentTable = "inet ftpproxy";
// "FTP" in ASCII; config::kDefaultKernelMark and the worker's --kernel-mark
// default are the same value.
inline constexpr std::uint32_t kDefaultKernelMark = 0x00465450;

// The prerouting rules of one instance; empty when it has neither a public
// address nor a forward-mode interface (possible only with firewall: none).
std::vector<std::string> nft_instance_rules(const FragmentInstance& instance);

// kernel_mark: the conntrack mark of the data connections the kernel
// carries for workers with data_path: kernel. The file defines it as
// $ftpproxy_kernel_mark (always, so that an operator's rule naming it loads
// whatever the instances use) for the operator's own forward chain: an
// accept in this table could not override a drop in theirs.
std::string render_nft_fragment(const std::vector<FragmentInstance>& instances,
                                std::uint32_t kernel_mark = kDefaultKernelMark);

// What ftpproxyd leaves when it stops: the file removes its table (which is
// ftpproxyd's alone) rather than leave it empty.
std::string render_nft_fragment_removal();

}  // namespace firewall
