#include "common/net_address.hpp"

#include <gtest/gtest.h>

namespace {

using namespace common;

TEST(NetAddress, IpLiterals) {
    EXPECT_EQ(parse_ip_address("198.18.0.1")->to_string(), "198.18.0.1");
    EXPECT_EQ(parse_ip_address("2001:DB8:0::10")->to_string(), "2001:db8::10");
    EXPECT_TRUE(parse_ip_address("::")->is_unspecified());
    for (const char* text : {"", "198.18.0", "198.18.0.256", "198.18.0.1 ", "fe80::1%eth0",
                             "localhost", "[::1]", "1.2.3.4:21"}) {
        EXPECT_EQ(parse_ip_address(text), std::nullopt) << text;
    }
}

TEST(NetAddress, Ports) {
    EXPECT_EQ(parse_port("1"), 1);
    EXPECT_EQ(parse_port("21"), 21);
    EXPECT_EQ(parse_port("65535"), 65535);
    // Five digits at most, leading zeros included (decimal, not octal): the
    // configuration file and the worker's -p, -P and --passive-ports alike.
    EXPECT_EQ(parse_port("00021"), 21);
    for (const char* text :
         {"", "0", "65536", "-1", "+21", "21a", " 21", "100000", "000021", "00000"}) {
        EXPECT_EQ(parse_port(text), std::nullopt) << text;
    }
}

TEST(NetAddress, PortRanges) {
    EXPECT_EQ(parse_port_range("49152-65535"), (PortRange{49152, 65535}));
    EXPECT_EQ(parse_port_range("5000-5000"), (PortRange{5000, 5000}));
    for (const char* text : {"", "5000", "5001-5000", "0-10", "1-65536", "1:2", "1 - 2", "-5"}) {
        EXPECT_EQ(parse_port_range(text), std::nullopt) << text;
    }
}

TEST(NetAddress, HostNames) {
    EXPECT_TRUE(is_host_name("ftp"));
    EXPECT_TRUE(is_host_name("ftp-1.example.org"));
    EXPECT_TRUE(is_host_name("3com.example"));
    for (const char* text : {"", "-ftp.example", "ftp-.example", "ftp..example", "ftp.example.",
                             "ftp_1.example", "300.1.1.1", "1.2.3", "a b"}) {
        EXPECT_FALSE(is_host_name(text)) << text;
    }
    EXPECT_FALSE(is_host_name(std::string(64, 'a')));
    EXPECT_TRUE(is_host_name(std::string(63, 'a')));
}

TEST(NetAddress, SplitsHostAndPort) {
    const auto split = [](std::string_view text) {
        const auto parts = split_host_port(text);
        if (!parts) {
            return std::string("invalid");
        }
        return std::string(parts->host) + "|" +
               (parts->port ? std::string(*parts->port) : std::string("-"));
    };
    EXPECT_EQ(split("198.18.0.1:21"), "198.18.0.1|21");
    EXPECT_EQ(split("198.18.0.1"), "198.18.0.1|-");
    EXPECT_EQ(split("ftp.example:2121"), "ftp.example|2121");
    EXPECT_EQ(split("[2001:db8::1]:21"), "2001:db8::1|21");
    EXPECT_EQ(split("[2001:db8::1]"), "2001:db8::1|-");
    EXPECT_EQ(split("2001:db8::1"), "2001:db8::1|-");
    EXPECT_EQ(split("198.18.0.1:"), "198.18.0.1|");
    EXPECT_EQ(split("[2001:db8::1"), "invalid");
    EXPECT_EQ(split("[2001:db8::1]21"), "invalid");
}

TEST(NetAddress, Formats) {
    EXPECT_EQ(format_endpoint(*parse_ip_address("198.18.0.1"), 21), "198.18.0.1:21");
    EXPECT_EQ(format_endpoint(*parse_ip_address("2001:db8::1"), 21), "[2001:db8::1]:21");
    EXPECT_EQ(format_host_port("ftp.example", 2121), "ftp.example:2121");
    // An address the operator wrote stays as written; a socket's endpoint is
    // written canonical.
    const IpAddress mapped = *parse_ip_address("::ffff:198.18.0.1");
    EXPECT_EQ(format_endpoint(mapped, 21), "[::ffff:198.18.0.1]:21");
    EXPECT_EQ(format_endpoint(Endpoint(mapped, 21)), "198.18.0.1:21");
    EXPECT_EQ(format_endpoint(Endpoint(*parse_ip_address("2001:db8::1"), 21)), "[2001:db8::1]:21");
}

// A dual-stack socket's IPv4 peer (::ffff:a.b.c.d) is the IPv4 address;
// nothing else changes.
TEST(NetAddress, Canonical) {
    EXPECT_EQ(canonical(*parse_ip_address("::ffff:198.18.0.1")), *parse_ip_address("198.18.0.1"));
    EXPECT_TRUE(canonical(*parse_ip_address("::ffff:198.18.0.1")).is_v4());
    for (const char* text : {"198.18.0.1", "2001:db8::1", "::", "::1", "::198.18.0.1"}) {
        EXPECT_EQ(canonical(*parse_ip_address(text)), *parse_ip_address(text)) << text;
    }
    const Endpoint endpoint(*parse_ip_address("::ffff:10.0.0.1"), 2121);
    EXPECT_EQ(canonical(endpoint), Endpoint(*parse_ip_address("10.0.0.1"), 2121));
}

}  // namespace
