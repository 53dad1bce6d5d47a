#include "ftp/policy.hpp"

#include <gtest/gtest.h>

namespace ftp {
namespace {

Endpoint ep(const char* address, std::uint16_t port) {
    return {boost::asio::ip::make_address(address), port};
}

TEST(Policy, ActiveTargetMustBeTheClientItself) {
    auto client = boost::asio::ip::make_address("198.18.0.10");
    EXPECT_FALSE(check_active_target(ep("198.18.0.10", 40000), client));
    EXPECT_EQ(check_active_target(ep("198.18.0.11", 40000), client),
              "the data address must be your own");
}

TEST(Policy, ActiveTargetBelow1024IsABounce) {
    auto client = boost::asio::ip::make_address("fd18::10");
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
    EXPECT_EQ(loggable_command({"pass", Verb::Pass, "secret"}), "PASS ****");
    EXPECT_EQ(loggable_command({"PaSs", Verb::Pass, ""}), "PASS ****");
    EXPECT_EQ(loggable_command({"ACCT", Verb::Acct, "secret"}), "ACCT ****");
    EXPECT_EQ(loggable_command({"retr", Verb::Retr, "a b.txt"}), "RETR a b.txt");
    EXPECT_EQ(loggable_command({"NOOP", Verb::Other, ""}), "NOOP");
}

TEST(Policy, Downloads) {
    EXPECT_TRUE(is_download(Verb::Retr));
    EXPECT_TRUE(is_download(Verb::Mlsd));
    EXPECT_FALSE(is_download(Verb::Stor));
    EXPECT_FALSE(is_download(Verb::Appe));
}

TEST(Policy, EpsvProtocols) {
    EXPECT_EQ(epsv_protocol("1"), 1);
    EXPECT_EQ(epsv_protocol("2"), 2);
    EXPECT_FALSE(epsv_protocol("3"));
    EXPECT_FALSE(epsv_protocol("all"));
}

}  // namespace
}  // namespace ftp
