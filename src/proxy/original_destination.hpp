// Where a diverted client meant to go (forward mode).
#pragma once

#include <optional>

#include "proxy/asio.hpp"

namespace proxy {

// The destination the client dialled before the firewall diverted the
// connection to us:
//   * Linux, nftables `redirect`/`dnat`: SO_ORIGINAL_DST (IPv4) or
//     IP6T_SO_ORIGINAL_DST (IPv6) from conntrack;
//   * Linux `tproxy` with an IP_TRANSPARENT listener, and OpenBSD
//     `divert-to`: the accepted socket's own local address.
// nat_only: the listener is not transparent, so a connection without a NAT
// record was not diverted at all; returns nullopt for it.
std::optional<tcp::endpoint> original_destination(tcp::socket& socket, bool nat_only);

}  // namespace proxy
