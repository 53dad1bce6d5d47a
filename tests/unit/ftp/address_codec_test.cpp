#include "ftp/address_codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using ftp::Endpoint;
namespace ip = boost::asio::ip;

Endpoint ep(const char* address, std::uint16_t port) {
    return Endpoint(ip::make_address(address), port);
}

// --- PORT -------------------------------------------------------------------

TEST(PortArgument, Parses) {
    EXPECT_EQ(ftp::parse_port_argument("10,0,0,1,4,1"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_port_argument("192,168,1,10,195,80"), ep("192.168.1.10", 50000));
    EXPECT_EQ(ftp::parse_port_argument("255,255,255,255,255,255"), ep("255.255.255.255", 65535));
    EXPECT_EQ(ftp::parse_port_argument("0,0,0,0,0,1"), ep("0.0.0.0", 1));
}

TEST(PortArgument, LeadingZerosAreDecimal) {
    EXPECT_EQ(ftp::parse_port_argument("010,000,000,001,004,001"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_port_argument("192,168,001,010,195,080"), ep("192.168.1.10", 50000));
}

TEST(PortArgument, Rejects) {
    for (const std::string_view bad : {
             "",
             "10,0,0,1,0,0",     // port 0
             "0010,0,0,1,4,1",   // four digits
             "10,0,0,1,4,0001",  // four digits
             "256,0,0,1,4,1",    // above 255
             "10,0,0,1,4,256",   // above 255
             "10,0,0,1,4",       // five numbers
             "10,0,0,1,4,1,2",   // seven numbers
             "10,0,0,1,4,1,",    // trailing comma
             ",10,0,0,1,4,1",    // leading comma
             "10,,0,1,4,1",      // empty number
             " 10,0,0,1,4,1",    // spaces
             "10,0,0,1,4,1 ",
             "10, 0,0,1,4,1",
             "10 ,0,0,1,4,1",
             "+10,0,0,1,4,1",  // signs
             "10,0,0,1,4,-1",
             "10.0.0.1,4,1",  // dots
             "a,b,c,d,e,f",
             "(10,0,0,1,4,1)",  // 227 form
         }) {
        EXPECT_EQ(ftp::parse_port_argument(bad), std::nullopt) << '"' << bad << '"';
    }
}

TEST(PortArgument, Formats) {
    EXPECT_EQ(ftp::format_port_argument(ep("10.0.0.1", 1025)), "10,0,0,1,4,1");
    EXPECT_EQ(ftp::format_port_argument(ep("192.168.1.10", 50000)), "192,168,1,10,195,80");
    EXPECT_EQ(ftp::format_port_argument(ep("255.255.255.255", 65535)), "255,255,255,255,255,255");
    EXPECT_EQ(ftp::format_port_argument(ep("::ffff:172.16.0.9", 21)), "172,16,0,9,0,21");
}

// --- EPRT -------------------------------------------------------------------

TEST(EprtArgument, Rfc2428Examples) {
    EXPECT_EQ(ftp::parse_eprt_argument("|1|132.235.1.2|6275|"), ep("132.235.1.2", 6275));
    EXPECT_EQ(ftp::parse_eprt_argument("|2|1080::8:800:200C:417A|5282|"),
              ep("1080::8:800:200c:417a", 5282));
}

TEST(EprtArgument, ParsesOtherForms) {
    EXPECT_EQ(ftp::parse_eprt_argument("|2|::1|5282|"), ep("::1", 5282));
    EXPECT_EQ(ftp::parse_eprt_argument("!1!10.0.0.1!21!"), ep("10.0.0.1", 21));
    EXPECT_EQ(ftp::parse_eprt_argument("~2~fe80::1~65535~"), ep("fe80::1", 65535));
    // A delimiter that also occurs in IPv4 text is fine as long as it is absent here.
    EXPECT_EQ(ftp::parse_eprt_argument(".2.::1.1."), ep("::1", 1));
    EXPECT_EQ(ftp::parse_eprt_argument("|1|010.000.000.001|00021|"), ep("10.0.0.1", 21));
    // v4-mapped under protocol 2 stays an IPv6 value.
    const auto mapped = ftp::parse_eprt_argument("|2|::ffff:10.0.0.1|2000|");
    ASSERT_TRUE(mapped);
    EXPECT_TRUE(mapped->address().is_v6());
    EXPECT_EQ(*mapped, ep("::ffff:10.0.0.1", 2000));
}

TEST(EprtArgument, Rejects) {
    for (const std::string_view bad : {
             "",
             "||||",
             "|1|10.0.0.1!21|",  // mismatched delimiters
             "|1|10.0.0.1|21!",
             "!1|10.0.0.1|21|",
             "|1|10.0.0.1|0|",  // port 0
             "|1|10.0.0.1|65536|",
             "|1|10.0.0.1|000021|",  // six digits
             "|1|10.0.0.1|+21|",
             "|1|10.0.0.1||",  // empty fields
             "||10.0.0.1|21|",
             "|1||21|",
             "|1|10.0.0.1|21",    // missing delimiter
             "|1|10.0.0.1|21|x",  // text after it
             " |1|10.0.0.1|21|",
             "|1|10.0.0.1||21|",  // five delimiters
             " 1 10.0.0.1 21 ",   // space is not a delimiter
             "\x7f"
             "1\x7f"
             "10.0.0.1\x7f"
             "21\x7f",
             "|1|::1|21|",  // protocol 1 needs IPv4
             "|1|10.0.0.256|21|",
             "|1|10.0.0|21|",
             "|1|10.0.0.1.2|21|",
             "|1|0x0a.0.0.1|21|",
             "|1|host.example|21|",
             "|2|10.0.0.1|21|",      // protocol 2 needs IPv6
             "|2|fe80::1%eth0|21|",  // no scope
             "|2|fe80::1%1|21|",
             "|2|1:2:3:4:5:6:7:8:9|21|",
             "|2|[::1]|21|",
             "|3|10.0.0.1|21|",  // unknown protocol
             "|0|10.0.0.1|21|",
             "|01x|10.0.0.1|21|",
         }) {
        EXPECT_EQ(ftp::parse_eprt_argument(bad), std::nullopt) << '"' << bad << '"';
    }
}

TEST(EprtArgument, ProtocolOfWellDelimitedArgument) {
    EXPECT_EQ(ftp::eprt_protocol("|1|132.235.1.2|6275|"), 1);
    EXPECT_EQ(ftp::eprt_protocol("|2|::1|5282|"), 2);
    EXPECT_EQ(ftp::eprt_protocol("|3|whatever|21|"), 3);
    EXPECT_EQ(ftp::eprt_protocol("!65535!x!y!"), 65535);
    EXPECT_EQ(ftp::eprt_protocol("|0|x|y|"), 0);
    // Malformed address or port, yet well delimited: the protocol is known.
    EXPECT_EQ(ftp::eprt_protocol("|1|10.0.0.256|21|"), 1);
    EXPECT_EQ(ftp::eprt_protocol("|2|::1|0|"), 2);
}

TEST(EprtArgument, ProtocolOfMalformedArgument) {
    EXPECT_EQ(ftp::eprt_protocol(""), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|1|10.0.0.1|21"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|1|10.0.0.1!21|"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|x|10.0.0.1|21|"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|65536|a|1|"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("||10.0.0.1|21|"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|3||21|"), std::nullopt);
    EXPECT_EQ(ftp::eprt_protocol("|3|a||"), std::nullopt);
}

TEST(EprtArgument, Formats) {
    EXPECT_EQ(ftp::format_eprt_argument(ep("132.235.1.2", 6275)), "|1|132.235.1.2|6275|");
    EXPECT_EQ(ftp::format_eprt_argument(ep("1080::8:800:200C:417A", 5282)),
              "|2|1080::8:800:200c:417a|5282|");
    EXPECT_EQ(ftp::format_eprt_argument(ep("::1", 5282)), "|2|::1|5282|");
    EXPECT_EQ(ftp::format_eprt_argument(ep("::ffff:10.0.0.1", 2000)), "|1|10.0.0.1|2000|");
    ip::address_v6 scoped = ip::make_address_v6("fe80::1");
    scoped.scope_id(3);
    EXPECT_EQ(ftp::format_eprt_argument(Endpoint(scoped, 21)), "|2|fe80::1|21|");
}

TEST(EprtArgument, RoundTrips) {
    for (const Endpoint& endpoint : {ep("10.0.0.1", 1), ep("2001:db8::5", 65535), ep("::", 20)}) {
        EXPECT_EQ(ftp::parse_eprt_argument(ftp::format_eprt_argument(endpoint)), endpoint);
    }
}

// --- 227 --------------------------------------------------------------------

TEST(PassiveReply, ParsesWithAndWithoutParentheses) {
    EXPECT_EQ(ftp::parse_227_text("Entering Passive Mode (10,0,0,1,4,1)."), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_227_text("Entering Passive Mode 10,0,0,1,4,1"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_227_text("=10,0,0,1,4,1"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_227_text("10,0,0,1,4,1"), ep("10.0.0.1", 1025));
}

TEST(PassiveReply, TrailingTextAndOtherNumbers) {
    EXPECT_EQ(ftp::parse_227_text("Entering Passive Mode (192,168,0,5,39,16). Have a nice day 1,2"),
              ep("192.168.0.5", 10000));
    EXPECT_EQ(ftp::parse_227_text("Entering Passive Mode 2024 (192,168,0,5,39,16)"),
              ep("192.168.0.5", 10000));
    EXPECT_EQ(ftp::parse_227_text("Mode 1,2 (10,0,0,1,4,1)"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_227_text("(010,000,000,001,004,001)"), ep("10.0.0.1", 1025));
}

TEST(PassiveReply, Rejects) {
    for (const std::string_view bad : {
             "",
             "Entering Passive Mode",
             "Entering Passive Mode (10,0,0,256,4,1)",  // above 255
             "Entering Passive Mode (10,0,0,1,4,999)",
             "Entering Passive Mode (10,0,0,1,4,1,7)",  // seven numbers
             "Entering Passive Mode (10,0,0,1,4)",      // five numbers
             "Entering Passive Mode (10,0,0,1,,4,1)",
             "Entering Passive Mode (10,0,0,1,0,0)",    // port 0
             "Entering Passive Mode (1000,0,0,1,4,1)",  // four digits
             "Entering Passive Mode (10, 0, 0, 1, 4, 1)",
             "Entering Passive Mode (10,0,0,1,4,1,)",
         }) {
        EXPECT_EQ(ftp::parse_227_text(bad), std::nullopt) << '"' << bad << '"';
    }
}

TEST(PassiveReply, FirstSixNumberRunDecides) {
    // A run of another shape is skipped; a six-number run that is out of
    // range ends the search.
    EXPECT_EQ(ftp::parse_227_text("(1,2,3,4,5,6,7) (10,0,0,1,4,1)"), ep("10.0.0.1", 1025));
    EXPECT_EQ(ftp::parse_227_text("(300,0,0,1,4,1) (10,0,0,1,4,1)"), std::nullopt);
}

TEST(PassiveReply, Formats) {
    EXPECT_EQ(ftp::format_227_reply(ep("10.0.0.1", 1025)),
              "227 Entering Passive Mode (10,0,0,1,4,1).");
    EXPECT_EQ(ftp::format_227_reply(ep("::ffff:192.168.1.10", 50000)),
              "227 Entering Passive Mode (192,168,1,10,195,80).");
    const std::string reply = ftp::format_227_reply(ep("172.16.254.3", 65535));
    EXPECT_EQ(ftp::parse_227_text(std::string_view(reply).substr(4)), ep("172.16.254.3", 65535));
}

// --- 229 --------------------------------------------------------------------

TEST(ExtendedPassiveReply, Parses) {
    EXPECT_EQ(ftp::parse_229_text("Entering Extended Passive Mode (|||6446|)"), 6446);
    EXPECT_EQ(ftp::parse_229_text("Entering Extended Passive Mode (!!!6446!)"), 6446);
    EXPECT_EQ(ftp::parse_229_text("Entering Extended Passive Mode (|||6446|)."), 6446);
    EXPECT_EQ(ftp::parse_229_text("(~~~1~)"), 1);
    EXPECT_EQ(ftp::parse_229_text("ok (EPSV) (|||65535|)"), 65535);
    EXPECT_EQ(ftp::parse_229_text("(|||06446|)"), 6446);
}

TEST(ExtendedPassiveReply, Rejects) {
    for (const std::string_view bad : {
             "",
             "Entering Extended Passive Mode",
             "Entering Extended Passive Mode (|||6446!)",  // mismatched
             "Entering Extended Passive Mode (||!6446|)",
             "Entering Extended Passive Mode (!||6446|)",
             "Entering Extended Passive Mode (|||0|)",  // port 0
             "Entering Extended Passive Mode (|||65536|)",
             "Entering Extended Passive Mode (|||123456|)",
             "Entering Extended Passive Mode (|||644a|)",
             "Entering Extended Passive Mode (|||-1|)",
             "Entering Extended Passive Mode (||||)",
             "Entering Extended Passive Mode (|||6446|",  // no closing parenthesis
             "Entering Extended Passive Mode (|||6446)",
             "Entering Extended Passive Mode |||6446|",    // no parentheses
             "Entering Extended Passive Mode (   6446 )",  // space is not a delimiter
             "Entering Extended Passive Mode (|1|10.0.0.1|6446|)",
         }) {
        EXPECT_EQ(ftp::parse_229_text(bad), std::nullopt) << '"' << bad << '"';
    }
}

TEST(ExtendedPassiveReply, Formats) {
    EXPECT_EQ(ftp::format_229_reply(6446), "229 Entering Extended Passive Mode (|||6446|)");
    EXPECT_EQ(ftp::format_229_reply(65535), "229 Entering Extended Passive Mode (|||65535|)");
    EXPECT_EQ(ftp::parse_229_text(std::string_view(ftp::format_229_reply(1)).substr(4)), 1);
}

// --- IPv4 forms ---------------------------------------------------------------

TEST(Ipv4Like, MappedAndPlain) {
    EXPECT_TRUE(ftp::is_ipv4_like(ip::make_address("10.0.0.1")));
    EXPECT_TRUE(ftp::is_ipv4_like(ip::make_address("::ffff:10.0.0.1")));
    EXPECT_FALSE(ftp::is_ipv4_like(ip::make_address("::1")));
    EXPECT_FALSE(ftp::is_ipv4_like(ip::make_address("::10.0.0.1")));  // v4-compatible, obsolete
    EXPECT_FALSE(ftp::is_ipv4_like(ip::make_address("2001:db8::1")));
    EXPECT_EQ(ftp::to_ipv4(ip::make_address("10.0.0.1")), ip::make_address_v4("10.0.0.1"));
    EXPECT_EQ(ftp::to_ipv4(ip::make_address("::ffff:10.0.0.1")), ip::make_address_v4("10.0.0.1"));
    EXPECT_THROW(ftp::to_ipv4(ip::make_address("::1")), ip::bad_address_cast);
}

}  // namespace
