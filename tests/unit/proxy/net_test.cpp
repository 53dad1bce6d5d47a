// The route lookup behind active mode's source address in forward mode.
#include "proxy/net.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace proxy
