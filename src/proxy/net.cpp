#include "proxy/net.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <random>

namespace proxy {

void reset_and_close(tcp::socket& socket) {
    error_code ignored;
    if (!socket.is_open()) return;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

namespace {

// Any nonzero port: a UDP connect() needs one, and sends nothing to it.
constexpr unsigned short kRouteProbePort = 9;

bool try_bind(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, error_code& error,
              bool transparent, bool listen) {
    if (transparent) set_transparent(acceptor.native_handle(), endpoint.address().is_v4(), error);
    if (error) return false;
    acceptor.bind(endpoint, error);
    if (error || !listen) return !error;
    acceptor.listen(1, error);  // one data connection is expected per listener
    return !error;
}

}  // namespace

void set_transparent(int fd, bool v4, error_code& error) {
#ifdef __linux__
    const int on = 1;
    if (setsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &on,
                   sizeof on) != 0)
        error = error_code(errno, asio::error::get_system_category());
#else
    (void)fd;
    (void)v4;
    error = asio::error::operation_not_supported;
#endif
}

namespace {

tcp::acceptor bind_in_range(asio::io_context& io, const asio::ip::address& address,
                            const PortRange& range, error_code& error, bool transparent,
                            bool listen) {
    auto local = canonical(address);
    tcp::acceptor acceptor(io);
    acceptor.open(local.is_v4() ? tcp::v4() : tcp::v6(), error);
    if (error) return acceptor;
    if (range.low == 0) {
        try_bind(acceptor, {local, 0}, error, transparent, listen);
        return acceptor;
    }
    // Start at a random port of the range so that consecutive sessions do not
    // all probe the same busy ports first.
    static std::minstd_rand random{std::random_device{}()};
    const unsigned span = range.high - range.low + 1u;
    const unsigned start = random() % span;
    for (unsigned i = 0; i < span; ++i) {
        auto port = static_cast<std::uint16_t>(range.low + (start + i) % span);
        if (try_bind(acceptor, {local, port}, error, transparent, listen)) return acceptor;
        if (error != asio::error::address_in_use) return acceptor;
        acceptor.close();
        acceptor.open(local.is_v4() ? tcp::v4() : tcp::v6(), error);
        if (error) return acceptor;
    }
    error = asio::error::address_in_use;
    return acceptor;
}

}  // namespace

tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        const PortRange& range, error_code& error, bool transparent) {
    return bind_in_range(io, address, range, error, transparent, true);
}

tcp::acceptor reserve_port(asio::io_context& io, const asio::ip::address& address,
                           const PortRange& range, error_code& error) {
    return bind_in_range(io, address, range, error, false, false);
}

// connect() on a UDP socket sends nothing: it only runs the route lookup and
// fixes the local address the kernel would use toward `destination`.
asio::ip::address source_toward(asio::io_context& io, const asio::ip::address& destination,
                                error_code& error) {
    const asio::ip::address to = canonical(destination);
    asio::ip::udp::socket probe(io);
    probe.open(to.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), error);
    if (!error) probe.connect({to, kRouteProbePort}, error);
    if (error) return {};
    return canonical(probe.local_endpoint(error).address());
}

}  // namespace proxy
