// Address checks shared by the rule renderers: both backends write addresses
// into rule text, so what reaches them must be one family and canonical.
#pragma once

#include <initializer_list>
#include <string>

#include "firewall/firewall.hpp"

namespace firewall {

// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; rules must name
// them as IPv4, or they would never match an IPv4 packet.
Address canonical(const Address& address);

// True when every address (after canonical()) is IPv4. Throws Error when
// they mix families: one rule cannot match both.
bool all_ipv4(std::initializer_list<Address> addresses);

// A session id as log lines and rule comments show it: "#12".
std::string session_tag(std::uint64_t session);

}  // namespace firewall
