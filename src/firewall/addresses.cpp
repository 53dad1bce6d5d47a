#include "firewall/addresses.hpp"

#include "common/net_address.hpp"

namespace firewall {

bool all_ipv4(std::initializer_list<Address> addresses) {
    int v4 = 0;
    for (const Address& address : addresses)
        if (common::canonical(address).is_v4()) ++v4;
    if (v4 != 0 && v4 != static_cast<int>(addresses.size()))
        throw Error("addresses of one data connection mix IPv4 and IPv6");
    return v4 != 0;
}

std::string session_tag(std::uint64_t session) {
    return "#" + std::to_string(session);
}

}  // namespace firewall
