// Listening on an address this host does not hold yet: the VIP of a CARP or
// VRRP backup node. The socket asks the kernel to accept such a bind, so the
// worker already listens when the node takes the address over (no restart).
#pragma once

#include <string>

namespace supervisor {

// What was asked of the kernel and what it answered.
struct NonlocalBind {
    const char* option = nullptr;  // "IP_FREEBIND", "IPV6_BINDANY", ...; null: the system has none
    int refused = 0;               // errno of setsockopt(); 0 when the option is set
};

// Before bind(), on a TCP socket of the given family: Linux IPV6_FREEBIND or
// IP_FREEBIND, FreeBSD IP_BINDANY / IPV6_BINDANY, OpenBSD SO_BINDANY (the
// BSD ones need root). Set whatever the address: it changes nothing for a
// local one, and an address may come and go between a check and the bind.
NonlocalBind allow_nonlocal_bind(int fd, bool ipv6);

// Why bind() failed with EADDRNOTAVAIL (`bind_errno`) after `attempt`, and
// what is missing: "the address is not on this host and IP_FREEBIND was
// refused: Operation not permitted (set net.ipv4.ip_nonlocal_bind=1)".
std::string explain_nonlocal_failure(const NonlocalBind& attempt, bool ipv6, int bind_errno);

}  // namespace supervisor
