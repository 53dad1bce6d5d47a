// Explicit FTPS on the client's side (--client-tls): AUTH, PBSZ, PROT and CCC
// answered by the proxy with exact replies, FEAT, and the required policy.
#include "dialogue_fixture.hpp"

namespace ftp {
namespace {

using namespace testing_support;

class DialogueTlsTest : public DialogueTest {
  protected:
    void tls(ClientTls mode) {
        auto config = v4_config();
        config.client_tls = mode;
        make(config);
        server("220 ready");
    }
    // AUTH TLS, the handshake, PBSZ 0 and PROT P.
    void protect() {
        client("AUTH TLS");
        client_tls_started();
        client("PBSZ 0");
        client("PROT P");
    }
};

TEST_F(DialogueTlsTest, WithoutACertificateTheSecurityCommandsAreRefusedAsBefore) {
    logged_in();
    EXPECT_EQ(client("AUTH TLS"),
              (Lines{"log! info: AUTH refused: FTPS is not carried",
                     "C 502 AUTH is not supported by this proxy (FTPS is not carried yet)."}));
    client("FEAT");
    EXPECT_EQ(server("211-Features:"), (Lines{"C 211-Features:"}));
    EXPECT_EQ(server(" AUTH TLS"), Lines{});
    EXPECT_EQ(server("211 End"), (Lines{"C 211 End"}));
}

TEST_F(DialogueTlsTest, AuthTlsIsAnsweredByTheProxyThenTheHandshakeIsAsked) {
    tls(ClientTls::Optional);
    EXPECT_EQ(client("AUTH TLS"), (Lines{"log info: client asked for TLS (AUTH TLS)",
                                         "C 234 AUTH TLS accepted.", "start-tls"}));
    EXPECT_EQ(client_tls_started(), (Lines{"log debug: client TLS established"}));
    EXPECT_TRUE(d().client_tls_active());
    EXPECT_EQ(client("AUTH TLS"), (Lines{"C 503 TLS is already active on this connection."}));
    EXPECT_EQ(client("USER bob"), (Lines{"S USER bob"}));
}

TEST_F(DialogueTlsTest, AuthSslIsTlsAndOtherMechanismsAreRefused) {
    tls(ClientTls::Optional);
    EXPECT_EQ(client("AUTH GSSAPI"),
              (Lines{"C 504 This AUTH mechanism is not supported; use AUTH TLS."}));
    EXPECT_EQ(client("auth ssl"), (Lines{"log info: client asked for TLS (AUTH SSL)",
                                         "C 234 AUTH SSL accepted.", "start-tls"}));
}

TEST_F(DialogueTlsTest, PipelinedAuthIsRefusedInOrder) {
    tls(ClientTls::Optional);
    EXPECT_EQ(client("NOOP"), (Lines{"S NOOP"}));
    EXPECT_EQ(client("AUTH TLS"), Lines{});
    EXPECT_EQ(
        server("200 ok"),
        (Lines{"C 200 ok", "C 503 AUTH must not be pipelined: wait for the replies due first."}));
}

TEST_F(DialogueTlsTest, PbszAndProtFollowRfc4217) {
    tls(ClientTls::Optional);
    EXPECT_EQ(client("PBSZ 0"),
              (Lines{"C 503 PBSZ needs a TLS control connection: send AUTH TLS first."}));
    EXPECT_EQ(client("PROT P"),
              (Lines{"C 503 PROT needs a TLS control connection: send AUTH TLS first."}));
    client("AUTH TLS");
    client_tls_started();
    EXPECT_EQ(client("PROT P"), (Lines{"C 503 PROT needs PBSZ first."}));
    EXPECT_EQ(client("PBSZ x"), (Lines{"C 501 PBSZ needs a decimal buffer size."}));
    EXPECT_EQ(client("PBSZ 16384"), (Lines{"C 200 PBSZ=0"}));
    EXPECT_EQ(client("PBSZ 0"), (Lines{"C 200 PBSZ 0 accepted."}));
    EXPECT_EQ(client("PROT S"), (Lines{"C 536 PROT S is not supported; use P or C."}));
    EXPECT_EQ(client("PROT X"), (Lines{"C 504 PROT needs one of C, S, E, P."}));
    EXPECT_EQ(client("PROT P"), (Lines{"C 200 PROT P: data connections are protected."}));
    EXPECT_EQ(client("PROT C"), (Lines{"C 200 PROT C: data connections are clear."}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTlsTest, CccAndReinAreRefusedOnATlsConnection) {
    tls(ClientTls::Optional);
    protect();
    EXPECT_EQ(client("CCC"),
              (Lines{"log! info: CCC refused: the control connection stays encrypted",
                     "C 534 CCC refused: this proxy keeps the control connection encrypted."}));
    EXPECT_EQ(client("REIN"), (Lines{"C 502 REIN is not supported on a TLS control connection."}));
}

TEST_F(DialogueTlsTest, ProtPMakesTheClientLegOfNewDataChannelsTls) {
    tls(ClientTls::Optional);
    EXPECT_EQ(client("PASV"), (Lines{"S* PASV"}));
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,156,64)."),
              (Lines{"open-passive 1 198.18.0.2:40000"}));
    passive_opened(ep("198.18.0.3", 50000));
    protect();
    EXPECT_EQ(client("PASV"), (Lines{"close 1", "S* PASV"}));
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,156,64)."),
              (Lines{"open-passive 2 198.18.0.2:40000 tls"}));
    passive_opened(ep("198.18.0.3", 50000));
    EXPECT_EQ(client("PORT 198,18,0,1,195,80"),
              (Lines{"close 2", "open-active 3 198.18.0.1:50000 tls"}));
}

// --client-tls-reuse required: the session refused the client's data
// connection; the server only saw it go. The client hears the proxy's
// reason, in a 426 whatever the server said (pyftpdlib answers 226 to an
// upload reset before its first byte), under the server's code if that
// was a failure, or if the reply began on earlier lines.
TEST_F(DialogueTlsTest, ARefusedDataConnectionsFailureReplyCarriesTheReason) {
    tls(ClientTls::Optional);
    protect();
    const std::string reason = "Data connection refused: it did not resume the session.";
    // PASV, then `command` up to the server's 150.
    const auto begin = [&](const char* command) {
        client("PASV");
        server("227 Entering Passive Mode (198,18,0,2,156,64).");
        passive_opened(ep("198.18.0.3", 50000));
        client(command);
        server("150 go");
    };
    begin("STOR f");
    EXPECT_EQ(server("426 Connection reset by peer"), (Lines{"finish 1 426 up"}));
    EXPECT_EQ(transfer_finished(reason), (Lines{"C 426 " + reason}));
    begin("STOR f");
    EXPECT_EQ(server("226 Transfer complete."), (Lines{"finish 2 226 up"}));
    EXPECT_EQ(transfer_finished(reason), (Lines{"C 426 " + reason}));
    begin("STOR f");
    EXPECT_EQ(server("226-File successfully transferred"),
              (Lines{"C 226-File successfully transferred"}));
    EXPECT_EQ(server("226 0.001 seconds"), (Lines{"finish 3 226 up"}));
    EXPECT_EQ(transfer_finished(reason), (Lines{"C 226 " + reason}));
    // Without a refusal the server's reply is relayed as it came.
    begin("RETR f");
    EXPECT_EQ(server("226 done"), (Lines{"finish 4 226 down"}));
    EXPECT_EQ(transfer_finished(), (Lines{"C 226 done"}));
}

TEST_F(DialogueTlsTest, FeatOffersTlsInPlaceOfTheServersOwn) {
    tls(ClientTls::Optional);
    client("FEAT");
    EXPECT_EQ(server("211-Features:"), (Lines{"C 211-Features:"}));
    EXPECT_EQ(server(" AUTH TLS;SSL"), Lines{});
    EXPECT_EQ(server(" PROT"), Lines{});
    EXPECT_EQ(server(" MDTM"), (Lines{"C  MDTM"}));
    EXPECT_EQ(server("211 End"), (Lines{"C  AUTH TLS", "C  PBSZ", "C  PROT", "C 211 End"}));
    client("FEAT");
    EXPECT_EQ(server("211 No features"),
              (Lines{"C 211-Features:", "C  AUTH TLS", "C  PBSZ", "C  PROT", "C 211 No features"}));
    client("FEAT");
    EXPECT_EQ(server("502 no FEAT"), (Lines{"C 502 no FEAT"}));
}

TEST_F(DialogueTlsTest, RequiredRefusesLoginBeforeAuthAndDataWithoutProtP) {
    tls(ClientTls::Required);
    EXPECT_EQ(client("USER bob"),
              (Lines{"log! info: USER refused: TLS is required first",
                     "C 530 This proxy requires TLS: send AUTH TLS before USER."}));
    EXPECT_EQ(client("PASS x"),
              (Lines{"log! info: PASS refused: TLS is required first",
                     "C 530 This proxy requires TLS: send AUTH TLS before PASS."}));
    client("AUTH TLS");
    client_tls_started();
    EXPECT_EQ(client("USER bob"), (Lines{"S USER bob"}));
    server("331 password");
    client("PASV");
    server("227 Entering Passive Mode (198,18,0,2,156,64).");
    passive_opened(ep("198.18.0.3", 50000));
    EXPECT_EQ(client("RETR f"),
              (Lines{"close 1", "log! info: RETR refused: PROT P is required",
                     "C 521 Data connections must be protected: send PROT P first."}));
    client("PBSZ 0");
    client("PROT P");
    EXPECT_EQ(client("LIST"), (Lines{"S LIST"}));
}

TEST_F(DialogueTlsTest, AnsweringWithoutAStartTlsRequestIsAProgrammingError) {
    tls(ClientTls::Optional);
    Actions out;
    EXPECT_THROW(d().client_tls_started(out), std::logic_error);
    client("AUTH TLS");
    EXPECT_THROW(d().client_line("NOOP", out), std::logic_error);
}

}  // namespace
}  // namespace ftp

namespace ftp {
namespace {

using namespace testing_support;

TEST_F(DialogueTest, ImplicitTlsStartsProtectedAndRefusesAuth) {
    auto config = v4_config();
    config.client_tls = ClientTls::Optional;
    config.implicit_tls = true;
    make(config);
    EXPECT_TRUE(d().client_tls_active());
    server("220 ready");
    EXPECT_EQ(client("AUTH TLS"), (Lines{"C 503 TLS is already active on this connection."}));
    EXPECT_EQ(client("PBSZ 0"), (Lines{"C 200 PBSZ 0 accepted."}));
    client("PASV");
    EXPECT_EQ(server("227 Entering Passive Mode (198,18,0,2,4,1)"),
              (Lines{"open-passive 1 198.18.0.2:1025 tls"}));
    passive_opened({boost::asio::ip::make_address("198.18.0.3"), 40000});
    // PROT C is the client's to choose, as with explicit FTPS.
    EXPECT_EQ(client("PROT C"), (Lines{"C 200 PROT C: data connections are clear."}));
    EXPECT_EQ(client("PORT 198,18,0,1,7,208"), (Lines{"close 1", "open-active 2 198.18.0.1:2000"}));
}

}  // namespace
}  // namespace ftp
