// TLS toward the server (--server-tls): the setup after the greeting (AUTH
// TLS, the handshake, PBSZ 0, PROT P) with exact lines, what the client sees
// of it (nothing but its greeting, or a 421 naming the failure), the client
// held meanwhile, and the data channels' server legs.
#include "dialogue_fixture.hpp"

namespace ftp {
namespace {

using namespace testing_support;

class DialogueServerTlsTest : public DialogueTest {
  protected:
    void server_tls(ServerTls mode, ClientTls client = ClientTls::Off) {
        auto config = v4_config();
        config.server_tls = mode;
        config.client_tls = client;
        make(config);
    }
    // Greeting, AUTH TLS accepted, handshake done, PBSZ and PROT accepted.
    void set_up() {
        server("220 ready");
        server("234 go");
        server_tls_started();
        server("200 PBSZ=0");
        server("200 PROT P ok");
    }
};

TEST_F(DialogueServerTlsTest, TheGreetingPassesThenTheProxyAsksForTlsAndHoldsTheClient) {
    server_tls(ServerTls::Required);
    EXPECT_TRUE(d().holding_client());
    EXPECT_EQ(server("220 ready"), (Lines{"C 220 ready", "S* AUTH TLS"}));
    EXPECT_TRUE(d().holding_client());
    EXPECT_EQ(server("234 AUTH TLS ok"), (Lines{"start-server-tls"}));
    EXPECT_EQ(server_tls_started(), (Lines{"S* PBSZ 0"}));
    EXPECT_EQ(server("200 PBSZ=0"), (Lines{"S* PROT P"}));
    EXPECT_TRUE(d().holding_client());
    // The greeting's deadline covered the setup: it ends now.
    EXPECT_EQ(server("200 PROT now Private"), (Lines{"greeting"}));
    EXPECT_FALSE(d().holding_client());
    EXPECT_EQ(d().replies_due(), 0u);
    EXPECT_EQ(client("USER bob"), (Lines{"S USER bob"}));
}

TEST_F(DialogueServerTlsTest, MultiLineAndPreliminaryRepliesOfTheSetupNeverReachTheClient) {
    server_tls(ServerTls::Auto);
    EXPECT_EQ(server("220-hello"), (Lines{"C 220-hello"}));
    EXPECT_EQ(server("220 ready"), (Lines{"C 220 ready", "S* AUTH TLS"}));
    EXPECT_EQ(server("234-AUTH"), Lines{});
    EXPECT_EQ(server(" inner"), Lines{});
    EXPECT_EQ(server("234 go"), (Lines{"start-server-tls"}));
    server_tls_started();
    EXPECT_EQ(server("200 PBSZ=0"), (Lines{"S* PROT P"}));
    EXPECT_EQ(server("200 ok"), (Lines{"greeting"}));
}

TEST_F(DialogueServerTlsTest, RequiredAndRefusedAuthIsA421WithTheCodeOnly) {
    server_tls(ServerTls::Required);
    server("220 ready");
    EXPECT_EQ(server("504 Unknown AUTH type {evil text}"),
              (Lines{"log warning: the server refused AUTH TLS: 504 Unknown AUTH type {evil text}",
                     "greeting",
                     "C 421 Service not available: the FTP server answered 504 to AUTH TLS, and "
                     "this proxy requires TLS toward it.",
                     "end: no TLS toward the server"}));
    EXPECT_TRUE(d().ended());
}

TEST_F(DialogueServerTlsTest, AutoAndRefusedAuthGoesOnInClearText) {
    server_tls(ServerTls::Auto);
    server("220 ready");
    EXPECT_EQ(server("502 no"),
              (Lines{"log info: the server refused AUTH TLS (502 no): clear text toward the server",
                     "greeting"}));
    EXPECT_FALSE(d().holding_client());
    EXPECT_EQ(client("REIN"), (Lines{"S REIN"}));  // nothing to lose in clear text
    server("220 again");
    client("PASV");
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,4,1)"),
              (Lines{"open-passive 1 198.18.0.2:1025"}));
}

TEST_F(DialogueServerTlsTest, AFailedHandshakeIsA421WithTheReasonWhateverThePolicy) {
    for (auto mode : {ServerTls::Auto, ServerTls::Required}) {
        server_tls(mode);
        server("220 ready");
        server("234 go");
        EXPECT_EQ(server_tls_failed("certificate verify failed: hostname mismatch"),
                  (Lines{"log warning: TLS toward the server failed: certificate verify failed: "
                         "hostname mismatch",
                         "greeting",
                         "C 421 Service not available: TLS toward the FTP server failed: "
                         "certificate verify failed: hostname mismatch.",
                         "end: no TLS toward the server"}));
    }
}

TEST_F(DialogueServerTlsTest, RefusedProtectionIsClearDataUnderAutoAndA421UnderRequired) {
    server_tls(ServerTls::Auto);
    server("220 ready");
    server("234 go");
    server_tls_started();
    server("200 PBSZ=0");
    EXPECT_EQ(server("534 no PROT P here"),
              (Lines{"log info: the server refused protected data (534 no PROT P here): data "
                     "connections to it are clear text",
                     "greeting"}));
    client("PASV");
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,4,1)"),
              (Lines{"open-passive 1 198.18.0.2:1025"}));

    server_tls(ServerTls::Required);
    server("220 ready");
    server("234 go");
    server_tls_started();
    EXPECT_EQ(server("500 PBSZ?"),
              (Lines{"log warning: the server refused protected data: 500 PBSZ?", "greeting",
                     "C 421 Service not available: the FTP server answered 500 to PBSZ 0, and "
                     "this proxy requires TLS toward it.",
                     "end: no TLS toward the server"}));
}

TEST_F(DialogueServerTlsTest, AGreetingOtherThan220AsksNothing) {
    server_tls(ServerTls::Auto);
    EXPECT_EQ(server("421 Too many users"), (Lines{"C 421 Too many users", "greeting"}));
    EXPECT_FALSE(d().holding_client());
    server_tls(ServerTls::Required);
    EXPECT_EQ(server("421 Too many users"), (Lines{"C 421 Too many users", "greeting",
                                                   "end: the server greeted with 421, not 220"}));
}

TEST_F(DialogueServerTlsTest, DataChannelsHaveTlsServerLegsInEveryMode) {
    server_tls(ServerTls::Required);
    set_up();
    client("USER bob");
    server("230 ok");
    client("PASV");
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,4,1)"),
              (Lines{"open-passive 1 198.18.0.2:1025 server-tls"}));
    EXPECT_EQ(client("PORT 198,18,0,1,7,208"), (Lines{"open-active 2 198.18.0.1:2000 server-tls"}));
}

TEST_F(DialogueServerTlsTest, TheServerLegShakesHandsAfterThe1xxOfItsTransfer) {
    server_tls(ServerTls::Required);
    set_up();
    client("PASV");
    server("227 Entering Passive Mode (198,18,0,2,4,1)");
    passive_opened({boost::asio::ip::make_address("198.18.0.3"), 40000});
    EXPECT_EQ(client("RETR f"), (Lines{"start 1 RETR f down", "S RETR f"}));
    EXPECT_EQ(server("150-Opening"), (Lines{"C 150-Opening"}));
    EXPECT_EQ(server("150 data"), (Lines{"server-ready 1", "C 150 data"}));
    EXPECT_EQ(server("226 done"), (Lines{"finish 1 226 down"}));
}

TEST_F(DialogueServerTlsTest, APipelinedTransferGetsItsReadinessWhenItsChannelComes) {
    server_tls(ServerTls::Required);
    set_up();
    client("PASV");
    client("LIST");
    // The 1xx cannot come before the 227 (replies are in order), but the
    // channel can come after it under a slow listener: the readiness waits.
    server("227 Entering Passive Mode (198,18,0,2,4,1)");
    EXPECT_EQ(passive_opened({boost::asio::ip::make_address("198.18.0.3"), 40000}),
              (Lines{"start 1 LIST down", "C 227 Entering Passive Mode (198,18,0,3,156,64)."}));
    EXPECT_EQ(server("150 here"), (Lines{"server-ready 1", "C 150 here"}));
}

TEST_F(DialogueServerTlsTest, ReinIsRefusedOnceTheServerSideIsTls) {
    server_tls(ServerTls::Required);
    set_up();
    EXPECT_EQ(client("REIN"),
              (Lines{"C 502 REIN is not supported: the connection to the server is TLS."}));
}

TEST_F(DialogueServerTlsTest, TheClientsOwnTlsStaysTheProxysBusiness) {
    server_tls(ServerTls::Required, ClientTls::Optional);
    set_up();
    EXPECT_EQ(client("AUTH TLS"), (Lines{"log info: client asked for TLS (AUTH TLS)",
                                         "C 234 AUTH TLS accepted.", "start-tls"}));
    client_tls_started();
    EXPECT_EQ(client("PBSZ 0"), (Lines{"C 200 PBSZ 0 accepted."}));
    EXPECT_EQ(client("PROT C"), (Lines{"C 200 PROT C: data connections are clear."}));
    client("PASV");
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,4,1)"),
              (Lines{"open-passive 1 198.18.0.2:1025 server-tls"}));
    passive_opened({boost::asio::ip::make_address("198.18.0.3"), 40000});
    // FEAT shows what the proxy carries toward the client, not the server's.
    client("FEAT");
    EXPECT_EQ(server("211-Features:"), (Lines{"C 211-Features:"}));
    EXPECT_EQ(server(" AUTH TLS"), Lines{});
    EXPECT_EQ(server(" PROT"), Lines{});
    EXPECT_EQ(server("211 End"), (Lines{"C  AUTH TLS", "C  PBSZ", "C  PROT", "C 211 End"}));
}

}  // namespace
}  // namespace ftp
