// What the dialogue counts for the worker's metrics: each refusal of a
// client's command with its reason, the server's answer to a login, and the
// mode of each data connection it asks for.
#include "dialogue_fixture.hpp"

namespace ftp {
namespace {

using namespace testing_support;

TEST_F(DialogueTest, EachRefusalNamesItsReason) {
    logged_in();
    EXPECT_EQ(tallies(), (Lines{"login ok"}));
    client("PORT 198,18,0,9,195,80");  // another host
    client("PORT 198,18,0,1,0,21");    // a privileged port
    client("EPRT |1|198.18.0.1|");
    client("LPSV");
    client("EPSV 7");  // a protocol number it does not serve: 522
    client("EPSV ALL");
    client("PASV");
    client("RETR \x01");
    client_overlong();
    EXPECT_EQ(tallies(), (Lines{"refused bounce", "refused bounce", "refused argument",
                                "refused not_supported", "refused not_supported",
                                "refused sequence", "refused syntax", "refused line_too_long"}));
    // Relayed commands are not the proxy's refusals, whatever the server says.
    client("CWD /nowhere");
    server("550 no such directory");
    EXPECT_TRUE(tallies().empty());
}

TEST_F(DialogueTest, AnonymousOnlyAndTlsRequiredAreRefusalsToo) {
    auto config = v4_config();
    config.anonymous_only = true;
    make(config);
    server("220 ready");
    client("USER bob");
    EXPECT_EQ(tallies(), (Lines{"refused anonymous_only"}));
    config.anonymous_only = false;
    config.client_tls = ClientTls::Required;
    make(config);
    server("220 ready");
    client("USER bob");
    EXPECT_EQ(tallies(), (Lines{"refused tls_required"}));
}

TEST_F(DialogueTest, TheServersAnswerToALoginIsCounted) {
    server("220 ready");
    client("USER bob");
    server("331 password please");  // not over yet
    EXPECT_TRUE(tallies().empty());
    client("PASS secret");
    server("530 Login incorrect.");
    EXPECT_EQ(tallies(), (Lines{"login failed"}));
    client("USER alice");
    server("331 password please");
    client("PASS right");
    server("230-Welcome");  // only the last line of a reply ends it
    EXPECT_TRUE(tallies().empty());
    server("230 logged in");
    EXPECT_EQ(tallies(), (Lines{"login ok"}));
    client("USER carol");  // refused by the server at once
    server("530 not allowed");
    EXPECT_EQ(tallies(), (Lines{"login failed"}));
}

TEST_F(DialogueTest, DataRequestsCarryTheClientsMode) {
    logged_in();
    client("PASV");
    server("227 =198,18,0,2,4,1");
    EXPECT_EQ(last_mode(), DataMode::Pasv);
    passive_opened(ep("198.18.0.3", 6446));
    client("EPSV");
    server("227 =198,18,0,2,4,2");
    EXPECT_EQ(last_mode(), DataMode::Epsv);
    passive_opened(ep("198.18.0.3", 6447));
    client("PORT 198,18,0,1,195,80");
    EXPECT_EQ(last_mode(), DataMode::Port);
    active_opened(ep("198.18.0.3", 40000));
    server("200 ok");
    client("EPRT |1|198.18.0.1|50001|");
    EXPECT_EQ(last_mode(), DataMode::Eprt);
    EXPECT_EQ(data_mode_name(DataMode::Eprt), "eprt");
    EXPECT_EQ(refusal_name(Refusal::TlsRequired), "tls_required");
}

TEST_F(DialogueTest, PassiveToServerKeepsTheClientsMode) {
    auto config = v4_config();
    config.passive_to_server = true;
    make(config);
    logged_in();
    client("EPRT |1|198.18.0.1|50000|");
    Actions out;
    d().client_leg_ready(out);
    server("227 (198,18,0,2,156,64)");
    EXPECT_EQ(last_mode(), DataMode::Eprt);
}

}  // namespace
}  // namespace ftp
