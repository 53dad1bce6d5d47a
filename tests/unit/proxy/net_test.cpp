// The route lookup behind active mode's source address in forward mode;
// the data listeners (transparent under --handoff).
#include "proxy/net.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

namespace proxy {
namespace {

// Loopback is always routed from itself; an IPv4-mapped destination is
// looked up (and answered) as IPv4.
TEST(Net, SourceTowardLoopbackIsLoopback) {
    asio::io_context io;
    error_code error;
    EXPECT_EQ(source_toward(io, asio::ip::make_address("127.0.0.1"), error),
              asio::ip::make_address("127.0.0.1"));
    EXPECT_FALSE(error) << error.message();
    EXPECT_EQ(source_toward(io, asio::ip::make_address("::ffff:127.0.0.1"), error),
              asio::ip::make_address("127.0.0.1"));
    EXPECT_FALSE(error) << error.message();
}

int transparent_flag(int fd) {
    int on = -1;
    socklen_t length = sizeof on;
    if (getsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, &length) != 0) return -1;
    return on;
}

// --handoff's data listeners are IP_TRANSPARENT (the connections they accept
// inherit it); others are not. Setting it needs CAP_NET_RAW.
TEST(Net, TransparentListenersOnlyWhenAsked) {
    asio::io_context io;
    error_code error;
    auto plain = listen_on(io, asio::ip::make_address("127.0.0.1"), {}, error);
    ASSERT_FALSE(error) << error.message();
    EXPECT_EQ(transparent_flag(plain.native_handle()), 0);
    if (geteuid() != 0) GTEST_SKIP() << "IP_TRANSPARENT needs CAP_NET_RAW (run as root)";
    auto transparent =
        listen_on(io, asio::ip::make_address("127.0.0.1"), {50000, 50100}, error, true);
    ASSERT_FALSE(error) << error.message();
    EXPECT_EQ(transparent_flag(transparent.native_handle()), 1);
    EXPECT_GE(transparent.local_endpoint().port(), 50000);
}

}  // namespace
}  // namespace proxy
