// The listening sockets ftpproxyd owns and hands to its workers. They stay
// open across worker restarts, so clients wait in the backlog instead of
// being refused.
#pragma once

#include <cstdint>
#include <string>

#include "common/net_address.hpp"
#include "common/unique_fd.hpp"

namespace supervisor {

// The kernel caps the backlog at net.core.somaxconn; ask for the most.
inline constexpr int kListenBacklog = 4096;

struct ListenResult {
    common::UniqueFd fd;  // close-on-exec; valid on success
    std::string error;    // "cannot listen on 127.0.0.1:21: Address already in use"
};

// A TCP socket listening on address:port: SO_REUSEADDR (a restart of
// ftpproxyd does not wait for TIME_WAIT), IPv6 sockets IPv6-only (like
// OpenBSD), and free bind where the system has it, so a CARP backup node can
// listen on a VIP it does not hold yet.
ListenResult open_listen_socket(const common::IpAddress& address, std::uint16_t port);

}  // namespace supervisor
