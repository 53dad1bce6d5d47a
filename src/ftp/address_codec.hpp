// Codecs for the addresses that FTP puts inside commands and replies:
// PORT and 227 (RFC 959, IPv4 only), EPRT and 229 (RFC 2428).
// Pure: no I/O. Parsers are strict and bounded; every number is range-checked
// and port 0 is rejected everywhere.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ftp {

using Endpoint = boost::asio::ip::tcp::endpoint;
using Address = boost::asio::ip::address;

// IPv4-mapped addresses are made plain IPv4 with common::canonical(), and
// endpoints written for logs with common::format_endpoint()
// (common/net_address.hpp).

// "h1,h2,h3,h4,p1,p2": exactly six decimal numbers 0..255 (at most 3 digits
// each), nothing else around them.
std::optional<Endpoint> parse_port_argument(std::string_view argument);
// The same form for an IPv4 endpoint (a v4-mapped IPv6 endpoint is accepted).
// Precondition: the address is IPv4 or v4-mapped.
std::string format_port_argument(const Endpoint& endpoint);

// "<d>proto<d>address<d>port<d>" with any delimiter d in '!'..'~';
// proto 1 requires an IPv4 dotted quad, 2 an IPv6 address.
std::optional<Endpoint> parse_eprt_argument(std::string_view argument);
// The protocol number of an EPRT argument whose delimiters are well formed
// (four equal delimiters, a decimal protocol of 1..5 digits, non-empty address
// and port fields), whatever the protocol; nullopt otherwise. Lets the proxy
// tell an unsupported protocol (522) from a malformed argument (501):
// parse_eprt_argument() failed and this returns a value other than 1 or 2.
std::optional<int> eprt_protocol(std::string_view argument);
// "|1|a.b.c.d|port|" or "|2|v6addr|port|" (v4-mapped is written as IPv4).
std::string format_eprt_argument(const Endpoint& endpoint);

// The text of a 227 reply (after the code): finds the first run of six
// comma-separated numbers, with or without parentheses, e.g.
// "Entering Passive Mode (10,0,0,1,4,1)." or "=10,0,0,1,4,1".
std::optional<Endpoint> parse_227_text(std::string_view text);
// "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)." without CRLF.
// Precondition: IPv4 or v4-mapped.
std::string format_227_reply(const Endpoint& endpoint);

// The text of a 229 reply: "Entering Extended Passive Mode (|||6446|)".
// The three leading delimiters and the trailing one must be the same
// character in '!'..'~'; returns the port.
std::optional<std::uint16_t> parse_229_text(std::string_view text);
// "229 Entering Extended Passive Mode (|||port|)" without CRLF.
std::string format_229_reply(std::uint16_t port);

// Whether an endpoint can be written in PORT/227 form.
bool is_ipv4_like(const boost::asio::ip::address& address);
// The IPv4 form of an IPv4 or v4-mapped address. Precondition: is_ipv4_like.
boost::asio::ip::address_v4 to_ipv4(const boost::asio::ip::address& address);

}  // namespace ftp
