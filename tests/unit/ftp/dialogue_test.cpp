// ftp::Dialogue line by line: what each client command and server reply
// makes the proxy do. Actions are rendered as short strings:
//   "C 220 hi"          a reply line to the client
//   "S USER bob"        the client's command to the server
//   "S* PASV"           the proxy's own request to the server
//   "log warning: ..."  ("log! ..." when a peer provoked it)
//   "open-passive 1 198.18.0.2:40000", "open-active 1 198.18.0.1:50000",
//   "expect-leg 198.18.0.1:50000", "connect-both 1 A B",
//   "start 1 RETR f down", "finish 1 226 down", "close 1", "greeting",
//   "end: reason", "start-tls"; " tls" after a data request whose client
//   leg is TLS. The fixture is in dialogue_fixture.hpp.
#include "dialogue_fixture.hpp"

namespace ftp {
namespace {

using namespace testing_support;

TEST_F(DialogueTest, GreetingIsRelayedAndEndsTheGreetingDeadline) {
    EXPECT_EQ(server("220-Welcome"), (Lines{"C 220-Welcome"}));
    EXPECT_EQ(server(" to the server"), (Lines{"C  to the server"}));
    EXPECT_EQ(server("220 ready"), (Lines{"greeting", "C 220 ready"}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, CommandsAreForwardedAndRepliesRelayedInOrder) {
    logged_in();
    EXPECT_EQ(client("PWD"), (Lines{"S PWD"}));
    EXPECT_EQ(client("pass secret"), (Lines{"S pass secret"}));
    EXPECT_EQ(client("PASS"), (Lines{"S PASS "}));  // an empty password keeps its space
    EXPECT_EQ(d().replies_due(), 3u);
    EXPECT_EQ(server("257 \"/\""), (Lines{"C 257 \"/\""}));
    EXPECT_EQ(server("230 ok"), (Lines{"C 230 ok"}));
    EXPECT_EQ(server("230 ok"), (Lines{"C 230 ok"}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, LocalRepliesWaitBehindTheServersRepliesToEarlierCommands) {
    logged_in();
    EXPECT_EQ(client("NOOP"), (Lines{"S NOOP"}));
    EXPECT_EQ(client("LPRT 1,2"), Lines{});  // answered by the proxy, after the NOOP's reply
    EXPECT_EQ(client("AUTH TLS"), (Lines{"log! info: AUTH refused: FTPS is not carried"}));
    EXPECT_EQ(server("200 NOOP ok"),
              (Lines{"C 200 NOOP ok", "C 502 LPRT is not supported; use EPRT/EPSV.",
                     "C 502 AUTH is not supported by this proxy (FTPS is not carried yet)."}));
    EXPECT_EQ(d().replies_due(), 0u);
    EXPECT_EQ(client("LPSV"), (Lines{"C 502 LPSV is not supported; use EPRT/EPSV."}));
}

TEST_F(DialogueTest, MalformedAndOverlongCommandsAreRefusedAndTheSessionGoesOn) {
    logged_in();
    EXPECT_EQ(client(std::string_view("NO\0OP", 5)),
              (Lines{"log! warning: refused command line: control character in command",
                     "C 500 Command line contains control characters."}));
    EXPECT_EQ(client("X"), (Lines{"log! warning: refused command line: command not understood",
                                  "C 500 Syntax error, command unrecognized."}));
    Actions out;
    d().client_overlong(out);
    ASSERT_EQ(out.size(), 3u);  // the log line, Refused, the reply
    EXPECT_EQ(render(out[2]),
              "C 500 Command line too long (limit " + std::to_string(kMaxCommandLine) + " bytes).");
    EXPECT_EQ(client("NOOP"), (Lines{"S NOOP"}));
}

TEST_F(DialogueTest, AnonymousOnlyRefusesOtherUsers) {
    auto config = v4_config();
    config.anonymous_only = true;
    make(config);
    server("220 ready");
    EXPECT_EQ(client("USER bob"), (Lines{"log! warning: non-anonymous login refused (-A)",
                                         "C 530 Only anonymous logins are allowed through this "
                                         "proxy."}));
    EXPECT_EQ(client("USER Anonymous"), (Lines{"S USER Anonymous"}));
}

TEST_F(DialogueTest, VerboseLogsCommandsWithPasswordsMasked) {
    auto config = v4_config();
    config.verbose = true;
    make(config);
    server("220 ready");
    EXPECT_EQ(client("PASS secret"), (Lines{"log notice: > PASS ****", "S PASS secret"}));
}

TEST_F(DialogueTest, PasvIsAskedOfTheServerAndItsReplyRewritten) {
    logged_in();
    EXPECT_EQ(client("PASV"), (Lines{"S* PASV"}));
    // The server's address in the 227 is not trusted: its control address is used.
    EXPECT_EQ(server("227 Entering Passive Mode (10,0,0,9,156,64)."),
              (Lines{"log! warning: server announced data address 10.0.0.9 in 227; using its "
                     "control address 198.18.0.2",
                     "open-passive 1 198.18.0.2:40000"}));
    EXPECT_EQ(passive_opened(ep("198.18.0.3", 50000)),
              (Lines{"C 227 Entering Passive Mode (198,18,0,3,195,80)."}));
    EXPECT_EQ(client("RETR f"), (Lines{"start 1 RETR f down", "S RETR f"}));
    EXPECT_EQ(server("150 opening"), (Lines{"C 150 opening"}));
    EXPECT_EQ(server("226 done"), (Lines{"finish 1 226 down"}));
    EXPECT_EQ(d().replies_due(), 1u);  // the 226 waits for the data
    EXPECT_EQ(transfer_finished(), (Lines{"C 226 done"}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, EpsvFromTheClientBecomesA229WhateverTheServerAnswered) {
    logged_in();
    EXPECT_EQ(client("EPSV"), (Lines{"S* PASV"}));  // the server side is IPv4
    EXPECT_EQ(server("227 =198,18,0,2,4,1"), (Lines{"open-passive 1 198.18.0.2:1025"}));
    EXPECT_EQ(passive_opened(ep("198.18.0.3", 6446)),
              (Lines{"C 229 Entering Extended Passive Mode (|||6446|)"}));
}

TEST_F(DialogueTest, PipelinedTransferAdoptsTheChannelOfThePassiveReply) {
    logged_in();
    EXPECT_EQ(client("PASV"), (Lines{"S* PASV"}));
    EXPECT_EQ(client("STOR up"), (Lines{"S STOR up"}));  // no channel yet
    EXPECT_EQ(server("227 (198,18,0,2,156,64)"), (Lines{"open-passive 1 198.18.0.2:40000"}));
    EXPECT_EQ(passive_opened(ep("198.18.0.3", 50000)),
              (Lines{"start 1 STOR up up", "C 227 Entering Passive Mode (198,18,0,3,195,80)."}));
    EXPECT_EQ(server("150 go"), (Lines{"C 150 go"}));
    EXPECT_EQ(server("226 stored"), (Lines{"finish 1 226 up"}));
}

// RFC 959 allows a 227 over several lines; the address may be on an inner
// line, which has no code in front of it.
TEST_F(DialogueTest, MultiLine227IsReadWholeAndItsInnerLineParsed) {
    logged_in();
    client("PASV");
    EXPECT_EQ(server("227-Entering Passive Mode"), Lines{});
    EXPECT_EQ(server("198,18,0,2,156,64"), Lines{});
    EXPECT_EQ(server("227 OK"), (Lines{"open-passive 1 198.18.0.2:40000"}));
}

// However long the server's 227, the client gets one line for it: never the
// server's address, never a multi-line reply left open (found by fuzzing:
// the 16-line limit used to send the held lines and then a 425 inside them).
TEST_F(DialogueTest, LongMultiLine227IsStillAnsweredWithOneLine) {
    logged_in();
    client("PASV");
    EXPECT_EQ(server("227-Entering Passive Mode"), Lines{});
    EXPECT_EQ(server("198,18,0,2,156,64"), Lines{});
    for (int i = 0; i < 40; ++i) EXPECT_EQ(server("filler"), Lines{});
    EXPECT_EQ(server("227 OK"), (Lines{"open-passive 1 198.18.0.2:40000"}));
    passive_opened(ep("198.18.0.3", 50000));
    client("PASV");
    server("227-no address");
    for (int i = 0; i < 20; ++i) server("filler");
    for (int i = 0; i < 20; ++i) server("198,18,0,2,156,64");  // past the limit: not read
    EXPECT_EQ(
        server("227 end"),
        (Lines{"log! warning: unusable 227 reply from server: 227 end",
               "C 425 Cannot open data connection: unusable passive reply from the server."}));
}

TEST_F(DialogueTest, OtherAnswersToPasvAreTheClientsToRead) {
    logged_in();
    client("PASV");
    EXPECT_EQ(server("500-not now"), (Lines{"C 500-not now"}));
    EXPECT_EQ(server("500 really"), (Lines{"C 500 really"}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, UnusablePassiveRepliesAreRefusedToTheClient) {
    logged_in();
    client("PASV");
    EXPECT_EQ(
        server("227 no address here"),
        (Lines{"log! warning: unusable 227 reply from server: 227 no address here",
               "C 425 Cannot open data connection: unusable passive reply from the server."}));
    client("PASV");
    EXPECT_EQ(server("500 no passive for you"), (Lines{"C 500 no passive for you"}));
    client("PASV");
    EXPECT_EQ(server("227 (198,18,0,2,156,64)"), (Lines{"open-passive 1 198.18.0.2:40000"}));
    Actions out;
    d().passive_refused("Address already in use", out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(render(out[0]), "C 425 Cannot open data connection: Address already in use.");
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, PassiveRepliesNobodyAskedForAreWithheld) {
    logged_in();
    client("HELP");
    EXPECT_EQ(server("227-(198,18,0,2,156,64)"),
              (Lines{"log! warning: server sent a 227 reply that answers no PASV/EPSV of ours: "
                     "withheld from the client",
                     "C 227-Passive reply withheld by the proxy (no PASV/EPSV was sent)."}));
    EXPECT_EQ(server("198,18,0,2,156,64"), Lines{});
    EXPECT_EQ(server("227 end"),
              (Lines{"C 227 Passive reply withheld by the proxy (no PASV/EPSV was sent)."}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, PortBecomesTheProxysOwnPortTowardTheServer) {
    logged_in();
    EXPECT_EQ(client("PORT 198,18,0,1,195,80"), (Lines{"open-active 1 198.18.0.1:50000"}));
    EXPECT_EQ(active_opened(ep("198.18.0.4", 40000)), (Lines{"S* PORT 198,18,0,4,156,64"}));
    EXPECT_EQ(server("200 PORT ok"), (Lines{"C 200 PORT ok"}));
    EXPECT_EQ(client("LIST"), (Lines{"start 1 LIST down", "S LIST"}));
}

TEST_F(DialogueTest, EprtTowardAnIpv6ServerIsEprt) {
    auto config = v4_config();
    config.server_ipv4 = false;
    make(config);
    logged_in();
    EXPECT_EQ(client("EPRT |1|198.18.0.1|50000|"), (Lines{"open-active 1 198.18.0.1:50000"}));
    EXPECT_EQ(active_opened(ep("fd18::4", 40000)), (Lines{"S* EPRT |2|fd18::4|40000|"}));
}

TEST_F(DialogueTest, BouncesAndMalformedPortsAreRefused) {
    logged_in();
    EXPECT_EQ(client("PORT 198,18,0,9,195,80"),
              (Lines{"log! warning: PORT to 198.18.0.9:50000 refused: the data address must be "
                     "your own (client is 198.18.0.1)",
                     "C 500 Illegal PORT command: the data address must be your own."}));
    EXPECT_EQ(client("EPRT |1|198.18.0.1|25|"),
              (Lines{"log! warning: EPRT to 198.18.0.1:25 refused: ports below 1024 are refused "
                     "(client is 198.18.0.1)",
                     "C 500 Illegal PORT command: ports below 1024 are refused."}));
    EXPECT_EQ(client("PORT 1,2,3"), (Lines{"log! warning: malformed PORT argument refused",
                                           "C 501 Malformed PORT argument."}));
    EXPECT_EQ(client("EPRT |3|x|1|"), (Lines{"C 522 Network protocol not supported, use (1,2)"}));
}

TEST_F(DialogueTest, FailedPortToTheServerDropsItsChannel) {
    logged_in();
    client("PORT 198,18,0,1,195,80");
    active_opened(ep("198.18.0.4", 40000));
    EXPECT_EQ(server("500 no"), (Lines{"close 1", "C 500 no"}));
    EXPECT_EQ(client("RETR f"), (Lines{"S RETR f"}));  // no channel to start
}

TEST_F(DialogueTest, ActiveOpenRefusedIsA425InOrder) {
    logged_in();
    client("NOOP");
    client("PORT 198,18,0,1,195,80");
    Actions out;
    d().active_refused("the firewall refused the rule", out);
    EXPECT_TRUE(out.empty());  // behind the NOOP's reply
    EXPECT_EQ(server("200 ok"),
              (Lines{"C 200 ok",
                     "C 425 Cannot open data connection: the firewall refused the "
                     "rule."}));
}

TEST_F(DialogueTest, PassiveToServerTurnsPortIntoPasv) {
    auto config = v4_config();
    config.passive_to_server = true;
    make(config);
    logged_in();
    EXPECT_EQ(client("PORT 198,18,0,1,195,80"), (Lines{"expect-leg 198.18.0.1:50000"}));
    Actions out;
    d().client_leg_ready(out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(render(out[0]), "S* PASV");
    EXPECT_EQ(server("227 (198,18,0,2,156,64)"),
              (Lines{"connect-both 1 198.18.0.1:50000 198.18.0.2:40000",
                     "C 200 PORT command successful."}));
    EXPECT_EQ(client("RETR f"), (Lines{"start 1 RETR f down", "S RETR f"}));
    EXPECT_EQ(server("451 aborted"), (Lines{"finish 1 451 down"}));
    EXPECT_EQ(transfer_finished(), (Lines{"C 451 aborted"}));
    out.clear();
    client("PORT 198,18,0,1,195,81");
    d().client_leg_ready(out);
    EXPECT_EQ(server("502 no passive"),
              (Lines{"C 425 Cannot open data connection: the server refused passive mode (502 "
                     "no passive)."}));
}

TEST_F(DialogueTest, EpsvAllRefusesEverythingButEpsvUntilRein) {
    logged_in();
    EXPECT_EQ(client("EPSV ALL"), (Lines{"C 200 EPSV ALL accepted."}));
    EXPECT_EQ(client("PASV"), (Lines{"C 503 Only EPSV is allowed after EPSV ALL."}));
    EXPECT_EQ(client("PORT 198,18,0,1,195,80"),
              (Lines{"C 503 Only EPSV is allowed after EPSV ALL."}));
    client("REIN");
    EXPECT_EQ(server("502 REIN not implemented"), (Lines{"C 502 REIN not implemented"}));
    EXPECT_EQ(client("PASV"), (Lines{"C 503 Only EPSV is allowed after EPSV ALL."}));
    client("REIN");
    EXPECT_EQ(server("220 ready"), (Lines{"C 220 ready"}));
    EXPECT_EQ(client("PASV"), (Lines{"S* PASV"}));
}

TEST_F(DialogueTest, ReinDropsThePreparedChannel) {
    logged_in();
    client("PASV");
    server("227 (198,18,0,2,156,64)");
    passive_opened(ep("198.18.0.3", 50000));
    client("REIN");
    EXPECT_EQ(server("220 ready"), (Lines{"close 1", "C 220 ready"}));
}

TEST_F(DialogueTest, EpsvArgumentsFollowRfc2428) {
    logged_in();
    EXPECT_EQ(client("EPSV 2"), (Lines{"C 522 Network protocol not supported, use (1)"}));
    EXPECT_EQ(client("EPSV x"), (Lines{"C 501 Malformed EPSV argument."}));
    EXPECT_EQ(client("EPSV 1"), (Lines{"S* PASV"}));
}

TEST_F(DialogueTest, PasvFromAnIpv6ClientIsRefused) {
    auto config = v4_config();
    config.client_ipv4 = false;
    make(config);
    logged_in();
    EXPECT_EQ(client("PASV"), (Lines{"C 425 PASV cannot describe an IPv6 address; use EPSV."}));
}

TEST_F(DialogueTest, FeatDropsWhatTheProxyCannotCarry) {
    logged_in();
    client("FEAT");
    EXPECT_EQ(server("211-Features:"), (Lines{"C 211-Features:"}));
    EXPECT_EQ(server(" AUTH TLS"), Lines{});
    EXPECT_EQ(server(" EPSV"), (Lines{"C  EPSV"}));
    EXPECT_EQ(server("211 End"), (Lines{"C 211 End"}));
}

TEST_F(DialogueTest, HalfClosedClientGetsItsRepliesThenTheSessionEnds) {
    logged_in();
    client("PWD");
    Actions out;
    d().client_closed(out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(render(out[0]), "log debug: client half-closed; 1 reply still due");
    EXPECT_EQ(server("257 \"/\""), (Lines{"C 257 \"/\"", "end: client closed"}));
    EXPECT_TRUE(d().ended());
    EXPECT_EQ(server("200 more"), Lines{});  // nothing after the end
}

// A client that gives up before the greeting asked for nothing: the session
// ends at once instead of waiting for a server slow to greet.
TEST_F(DialogueTest, ClientGoneBeforeTheGreetingEndsTheSessionAtOnce) {
    Actions out;
    d().client_closed(out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(render(out[0]), "end: client closed");
    EXPECT_TRUE(d().ended());
}

TEST_F(DialogueTest, MalformedServerReplyEndsTheSessionWith421) {
    logged_in();
    client("PWD");
    EXPECT_EQ(server("hello"),
              (Lines{"log warning: server sent a malformed reply (reply does not start with "
                     "a code 100..599): closing",
                     "C 421 Service not available: the server sent an invalid reply.",
                     "end: server protocol error"}));
}

TEST_F(DialogueTest, UnsolicitedRepliesAreRelayed) {
    logged_in();
    EXPECT_EQ(server("421 going down"), (Lines{"C 421 going down"}));
    EXPECT_EQ(d().replies_due(), 0u);
}

// The client would read a reply of the proxy's own inside a multi-line
// reply as one of its lines.
TEST_F(DialogueTest, LocalRepliesWaitForTheEndOfAnUnsolicitedMultiLineReply) {
    logged_in();
    EXPECT_EQ(server("211-news"), (Lines{"C 211-news"}));
    EXPECT_EQ(client("LPSV"), Lines{});
    EXPECT_EQ(server("211 end"),
              (Lines{"C 211 end", "C 502 LPSV is not supported; use EPRT/EPSV."}));
    EXPECT_EQ(d().replies_due(), 0u);
}

TEST_F(DialogueTest, InputWhileARequestIsUnansweredIsAProgrammingError) {
    logged_in();
    client("PASV");
    server("227 (198,18,0,2,156,64)");
    Actions out;
    EXPECT_THROW(d().server_line("200 x", out), std::logic_error);
    EXPECT_THROW(d().transfer_finished(out), std::logic_error);
    EXPECT_NO_THROW(d().client_line("NOOP", out));  // the other side goes on
}

}  // namespace
}  // namespace ftp
