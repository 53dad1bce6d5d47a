#include "proxy/original_destination.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#if defined(__linux__)
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#endif

#include "proxy/net.hpp"

namespace proxy {
namespace {

#if defined(__linux__)
// The conntrack NAT record; fails with ENOENT when no NAT happened.
std::optional<tcp::endpoint> nat_destination(tcp::socket& socket) {
    const int fd = socket.native_handle();
    error_code error;
    const bool v6 = socket.local_endpoint(error).address().is_v6();
    if (error) return std::nullopt;
    if (v6) {
        sockaddr_in6 address{};
        socklen_t length = sizeof address;
        if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &address, &length) == 0) {
            asio::ip::address_v6::bytes_type bytes;
            std::copy(std::begin(address.sin6_addr.s6_addr), std::end(address.sin6_addr.s6_addr),
                      bytes.begin());
            return canonical(tcp::endpoint{asio::ip::address_v6(bytes), ntohs(address.sin6_port)});
        }
        // A v4 client on a dual-stack socket is NATed by the IPv4 table.
    }
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &address, &length) == 0)
        return tcp::endpoint{asio::ip::address_v4(ntohl(address.sin_addr.s_addr)),
                             ntohs(address.sin_port)};
    return std::nullopt;
}
#endif

}  // namespace

std::optional<tcp::endpoint> original_destination(tcp::socket& socket, bool nat_only) {
#if defined(__linux__)
    if (auto destination = nat_destination(socket)) return destination;
#endif
    if (nat_only) return std::nullopt;
    // tproxy / divert-to: the socket was accepted on the original destination.
    error_code error;
    auto local = socket.local_endpoint(error);
    if (error) return std::nullopt;
    return canonical(local);
}

}  // namespace proxy
