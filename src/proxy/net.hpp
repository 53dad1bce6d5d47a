// Small socket helpers shared by sessions and data channels.
#pragma once

#include <string>

#include "common/net_address.hpp"
#include "proxy/asio.hpp"
#include "proxy/options.hpp"

namespace proxy {

// ::ffff:a.b.c.d as a.b.c.d.
using common::canonical;
// "192.0.2.1:21" or "[2001:db8::1]:21", canonical.
using common::format_endpoint;

// A listening socket on address, on a port from range (or the kernel's
// choice when the range is empty). Used for the proxy's data listeners.
// Closes the socket with a TCP reset (SO_LINGER 0) instead of a FIN: how an
// abort on one side of the proxy reaches the peer on the other side, so that
// a broken transfer is never mistaken for a complete one.
void reset_and_close(tcp::socket& socket);

// transparent: see set_transparent().
tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        const PortRange& range, error_code& error, bool transparent = false);
// A port of the range bound on `address` but never listening: the kernel
// data path's announced port. No other session takes it, and a connection
// the firewall did not translate reaches no listener (a reset).
tcp::acceptor reserve_port(asio::io_context& io, const asio::ip::address& address,
                           const PortRange& range, error_code& error);

// IP_TRANSPARENT (IPV6_TRANSPARENT) on a socket that is not bound yet. A
// socket bound to an address this host no longer has (a VIP that moved to
// the cluster peer) can still receive, but only a transparent one can send:
// the kernel refuses a route from a source address that is not local
// (IP_FREEBIND only lets the bind happen). Needs CAP_NET_RAW.
void set_transparent(int fd, bool v4, error_code& error);

// The local address the route toward `destination` uses (the address of
// the interface it leaves by, or the route's `src`). Used where the
// control connection's local address cannot be (loopback after `dnat to
// 127.0.0.1`, the server's own address under --tproxy).
asio::ip::address source_toward(asio::io_context& io, const asio::ip::address& destination,
                                error_code& error);

}  // namespace proxy
