// Listening on an address the host does not hold (a backup node's VIP): the
// socket option per system, and the error that says what is missing when
// the kernel still refuses. 198.18.77.0/24 and 2001:db8::/32 are on no
// interface of a test machine.
#include "supervisor/nonlocal_bind.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/unique_fd.hpp"
#include "supervisor/listen_socket.hpp"

namespace {

using namespace supervisor;

common::IpAddress ip(const char* text) {
    return *common::parse_ip_address(text);
}

// The address a socket is bound to, as text.
std::string bound_address(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length), 0);
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&storage)->sin_addr, text, sizeof text);
    } else {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&storage)->sin6_addr, text,
                  sizeof text);
    }
    return text;
}

TEST(NonlocalBind, ListensOnAnIpv4AddressNotHeld) {
    const ListenResult result = open_listen_socket(ip("198.18.77.201"), 0);
    ASSERT_TRUE(result.fd) << result.error;
    EXPECT_EQ(bound_address(result.fd.get()), "198.18.77.201");
}

TEST(NonlocalBind, ListensOnAnIpv6AddressNotHeld) {
    const ListenResult result = open_listen_socket(ip("2001:db8::77:1"), 0);
    ASSERT_TRUE(result.fd) << result.error;
    EXPECT_EQ(bound_address(result.fd.get()), "2001:db8::77:1");
}

#if defined(__linux__)
TEST(NonlocalBind, LinuxUsesFreebindPerFamily) {
    common::UniqueFd v4(socket(AF_INET, SOCK_STREAM, 0));
    const NonlocalBind on_v4 = allow_nonlocal_bind(v4.get(), false);
    EXPECT_STREQ(on_v4.option, "IP_FREEBIND");
    EXPECT_EQ(on_v4.refused, 0);
    common::UniqueFd v6(socket(AF_INET6, SOCK_STREAM, 0));
    const NonlocalBind on_v6 = allow_nonlocal_bind(v6.get(), true);
    EXPECT_STREQ(on_v6.option, "IPV6_FREEBIND");
    EXPECT_EQ(on_v6.refused, 0);
}

TEST(NonlocalBind, RefusalNamesTheOptionAndTheSysctl) {
    EXPECT_EQ(explain_nonlocal_failure({"IP_FREEBIND", EPERM}, false, EADDRNOTAVAIL),
              "the address is not on this host and IP_FREEBIND was refused: Operation not "
              "permitted (set net.ipv4.ip_nonlocal_bind=1)");
    EXPECT_EQ(explain_nonlocal_failure({"IPV6_FREEBIND", ENOPROTOOPT}, true, EADDRNOTAVAIL),
              "the address is not on this host and IPV6_FREEBIND was refused: Protocol not "
              "available (set net.ipv6.ip_nonlocal_bind=1)");
    EXPECT_EQ(explain_nonlocal_failure({nullptr, 0}, false, EADDRNOTAVAIL),
              "the address is not on this host and this system cannot listen on an address it "
              "does not hold (set net.ipv4.ip_nonlocal_bind=1)");
}
#endif

TEST(NonlocalBind, RefusedDespiteTheOptionSaysSo) {
    EXPECT_EQ(explain_nonlocal_failure({"SO_BINDANY", 0}, false, EADDRNOTAVAIL),
              "the address is not on this host, and bind() refused it although SO_BINDANY was "
              "set: Cannot assign requested address");
}

}  // namespace
