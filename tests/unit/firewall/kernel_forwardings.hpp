// Two kernel data path connections the firewall tests share: a passive one
// over IPv4 (the client's address as a dual-stack socket reports it), and an
// active one over IPv6 with -r's source port 20.
#pragma once

#include <boost/asio/ip/address.hpp>

#include "firewall/firewall.hpp"

namespace firewall::test {

inline KernelForwarding passive_v4_forwarding() {
    using boost::asio::ip::make_address;
    KernelForwarding f;
    f.session = 7;
    f.from = make_address("::ffff:198.18.1.2");
    f.proxy = make_address("198.18.1.1");
    f.port = 50010;
    f.to = make_address("198.18.2.2");
    f.to_port = 2121;
    f.source = make_address("198.18.2.1");
    return f;
}

inline KernelForwarding active_v6_forwarding() {
    using boost::asio::ip::make_address;
    KernelForwarding f;
    f.from = make_address("fd18:2::2");
    f.proxy = make_address("fd18:2::1");
    f.port = 50011;
    f.to = make_address("fd18:1::2");
    f.to_port = 41000;
    f.source = make_address("fd18:1::1");
    f.source_port = 20;
    return f;
}

}  // namespace firewall::test
