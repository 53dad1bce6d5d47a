// The TLS helpers toward the server: the fingerprint a pin is given as, and
// the errors of a CA file that cannot be used (named with the flag).
#include "proxy/tls.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace proxy {
namespace {

std::string setup_error(const std::string& ca_file) {
    try {
        make_client_tls_context(ca_file, false);
    } catch (const TlsSetupError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Tls, FingerprintsAreHexWithOrWithoutColons) {
    const std::string hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    auto plain = parse_fingerprint(hex);
    ASSERT_TRUE(plain);
    EXPECT_EQ((*plain)[0], 0x00);
    EXPECT_EQ((*plain)[10], 0xaa);
    EXPECT_EQ((*plain)[31], 0xff);
    std::string colons;
    for (std::size_t i = 0; i < hex.size(); i += 2) colons += (i ? ":" : "") + hex.substr(i, 2);
    EXPECT_EQ(parse_fingerprint(colons), plain);
    EXPECT_FALSE(parse_fingerprint(hex.substr(2)));  // 31 bytes
    EXPECT_FALSE(parse_fingerprint(hex + "00"));     // 33 bytes
    EXPECT_FALSE(parse_fingerprint("g" + hex.substr(1)));
    EXPECT_FALSE(parse_fingerprint(""));
}

TEST(Tls, ACaFileThatCannotBeUsedIsNamedWithItsFlag) {
    EXPECT_EQ(setup_error("/nonexistent/ca.pem"),
              "--server-tls-ca /nonexistent/ca.pem: No such file or directory");
    const std::string junk = ::testing::TempDir() + "/not-a-ca.pem";
    std::ofstream(junk) << "not PEM at all\n";
    EXPECT_EQ(setup_error(junk).rfind("--server-tls-ca " + junk + ": no usable PEM certificate", 0),
              0u)
        << setup_error(junk);
    // A pin needs no CA at all, not even the system's.
    EXPECT_NO_THROW(make_client_tls_context("/nonexistent/ca.pem", true));
}

}  // namespace
}  // namespace proxy
