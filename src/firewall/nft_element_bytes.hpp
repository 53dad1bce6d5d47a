// The netlink form of a set or map element (nft_commands.hpp Element): the
// bytes nf_tables compares and stores, as libnftables would send them for
// `add element`. Pure, so the encoding is testable without root.
//
// The text Element stays the one description of an element (golden files,
// log lines, `nft list table`); this only translates it. A concatenation
// (`a . b . port`) is its fields in order, each in network byte order and
// padded with zeros to a multiple of 4 bytes (the nf_tables register size):
// ipv4_addr 4, ipv6_addr 16, inet_service 2 + 2.
#pragma once

#include <cstdint>
#include <vector>

#include "firewall/nft_commands.hpp"

namespace firewall::nft {

struct ElementBytes {
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> data;  // empty for a set's element
};

// Throws Error for text that is not ADDRESS/PORT fields joined by " . ".
ElementBytes element_bytes(const Element& element);

}  // namespace firewall::nft
