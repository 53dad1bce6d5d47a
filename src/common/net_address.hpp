// Addresses and ports as the configuration writes them. Firewall rules need
// IP literals, so only the backend may be a host name (the worker resolves it
// once at start, as -R does).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {

using IpAddress = boost::asio::ip::address;
using Endpoint = boost::asio::ip::tcp::endpoint;

struct PortRange {
    std::uint16_t low = 0;
    std::uint16_t high = 0;
    bool operator==(const PortRange&) const = default;
};

// The lowest port of a passive port range: below it the worker would need
// the privilege it gives up after start.
inline constexpr std::uint16_t kMinPassivePort = 1024;

// An IPv4 or IPv6 literal. No "%scope": pf and nftables rules cannot carry it.
std::optional<IpAddress> parse_ip_address(std::string_view text);
// Decimal 1..65535, digits only (no sign, no spaces).
std::optional<std::uint16_t> parse_port(std::string_view text);
// "LOW-HIGH", both ports, LOW <= HIGH.
std::optional<PortRange> parse_port_range(std::string_view text);
// RFC 1123 host name: dot-separated labels of letters, digits and '-'
// (not at either end), 1..63 characters each, 253 in all; the last label
// not all digits.
bool is_host_name(std::string_view text);

// "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 literal. A bare
// IPv6 literal cannot carry a port ("2001:db8::1:21" is one address), so a
// port after an IPv6 address needs the brackets. Only splits; the parts are
// checked with the functions above.
struct HostPortText {
    std::string_view host;
    std::optional<std::string_view> port;
};
std::optional<HostPortText> split_host_port(std::string_view text);

// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d (IPv4-mapped
// IPv6); canonical() gives the IPv4 address instead, so that comparisons,
// PORT/227 encoding and firewall rules see one form per host (a rule naming
// the mapped form would never match an IPv4 packet). Other addresses are
// returned unchanged.
IpAddress canonical(const IpAddress& address);
Endpoint canonical(const Endpoint& endpoint);

// "192.0.2.1:21", "[2001:db8::1]:21"; a host name is written as is.
std::string format_host_port(std::string_view host, std::uint16_t port);
// The address as it is: an operator's "::ffff:192.0.2.1" stays what was written.
std::string format_endpoint(const IpAddress& address, std::uint16_t port);
// An endpoint a socket reported, for logs and replies: canonical(), so an
// IPv4 peer of a dual-stack socket reads "192.0.2.1:21".
std::string format_endpoint(const Endpoint& endpoint);

}  // namespace common
