#include "proxy/policy.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

tcp::endpoint ep(const char* address, std::uint16_t port) {
    return {asio::ip::make_address(address), port};
}

TEST(Policy, ActiveTargetMustBeTheClientItself) {
    auto client = asio::ip::make_address("198.18.0.10");
    EXPECT_FALSE(check_active_target(ep("198.18.0.10", 40000), client));
    EXPECT_EQ(check_active_target(ep("198.18.0.11", 40000), client),
              "the data address must be your own");
}

TEST(Policy, ActiveTargetBelow1024IsABounce) {
    auto client = asio::ip::make_address("fd18::10");
    EXPECT_EQ(check_active_target(ep("fd18::10", 25), client), "ports below 1024 are refused");
    EXPECT_EQ(check_active_target(ep("fd18::10", 1023), client), "ports below 1024 are refused");
    EXPECT_FALSE(check_active_target(ep("fd18::10", 1024), client));
}

TEST(Policy, AnonymousUsers) {
    EXPECT_TRUE(is_anonymous_user("anonymous"));
    EXPECT_TRUE(is_anonymous_user("ANONYMOUS"));
    EXPECT_TRUE(is_anonymous_user("ftp"));
    EXPECT_FALSE(is_anonymous_user("anonymous2"));
    EXPECT_FALSE(is_anonymous_user("root"));
    EXPECT_FALSE(is_anonymous_user(""));
}

TEST(Policy, PasswordsAreMaskedWhateverTheCase) {
    EXPECT_EQ(loggable_command({"pass", ftp::Verb::Pass, "secret"}), "PASS ****");
    EXPECT_EQ(loggable_command({"PaSs", ftp::Verb::Pass, ""}), "PASS ****");
    EXPECT_EQ(loggable_command({"ACCT", ftp::Verb::Acct, "secret"}), "ACCT ****");
    EXPECT_EQ(loggable_command({"retr", ftp::Verb::Retr, "a b.txt"}), "RETR a b.txt");
    EXPECT_EQ(loggable_command({"NOOP", ftp::Verb::Other, ""}), "NOOP");
}

TEST(Policy, Downloads) {
    EXPECT_TRUE(is_download(ftp::Verb::Retr));
    EXPECT_TRUE(is_download(ftp::Verb::Mlsd));
    EXPECT_FALSE(is_download(ftp::Verb::Stor));
    EXPECT_FALSE(is_download(ftp::Verb::Appe));
}

TEST(Policy, EpsvProtocols) {
    EXPECT_EQ(epsv_protocol("1"), 1);
    EXPECT_EQ(epsv_protocol("2"), 2);
    EXPECT_FALSE(epsv_protocol("3"));
    EXPECT_FALSE(epsv_protocol("all"));
}

}  // namespace
}  // namespace proxy
