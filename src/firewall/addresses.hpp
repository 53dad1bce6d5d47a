// Address checks shared by the rule renderers: both backends write addresses
// into rule text, so what reaches them must be one family and canonical.
#pragma once

#include <initializer_list>
#include <string>

#include "firewall/firewall.hpp"

namespace firewall {

// Addresses reach the rules through common::canonical()
// (common/net_address.hpp): a dual-stack socket reports IPv4 peers as
// ::ffff:a.b.c.d, and a rule naming that form never matches an IPv4 packet.

// True when every address (after common::canonical()) is IPv4. Throws Error when
// they mix families: one rule cannot match both.
bool all_ipv4(std::initializer_list<Address> addresses);

// A session id as log lines and rule comments show it: "#12".
std::string session_tag(std::uint64_t session);

}  // namespace firewall
