// The listening sockets ftpproxyd owns and hands to its workers. They stay
// open across worker restarts, so clients wait in the backlog instead of
// being refused, and across a reload that moves a port from one instance to
// another, so the connections in its backlog are not lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

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
// OpenBSD), and free bind (nonlocal_bind.hpp), so a CARP backup node listens
// on a VIP it does not hold yet. An address the kernel still refuses gets an
// error that says what is missing.
ListenResult open_listen_socket(const common::IpAddress& address, std::uint16_t port);

// Every listening socket, one per address:port. The instances that use one
// share it (a shared_ptr each); it closes when the last lets go. The one
// place that opens them: an instance asks here, never binds itself.
class Listeners {
  public:
    using Socket = std::shared_ptr<const common::UniqueFd>;

    // The socket open on address:port, or a new one; null with `error` set
    // when it cannot be opened.
    Socket acquire(const common::IpAddress& address, std::uint16_t port, std::string& error);
    // Every socket open now. A reload holds them while instances change, so
    // that a port passed from one instance to another stays open; the ones
    // nobody took close when the hold goes.
    std::vector<Socket> hold_all() const;

  private:
    std::map<std::string, std::weak_ptr<const common::UniqueFd>> open_;
};

}  // namespace supervisor
