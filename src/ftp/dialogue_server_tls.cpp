// TLS toward the server (--server-tls, RFC 4217 with the proxy as the
// client): after the server's 220 the proxy sends its own AUTH TLS, shakes
// hands (the session's StartServerTls), then PBSZ 0 and PROT P, so that
// every data connection's server leg can be TLS too. None of these replies
// reaches the client, which has had its greeting and whose commands wait
// (holding_client()) until the setup is over: a command relayed meanwhile
// would go to the server in clear text, or in the middle of the handshake.
//
// What the proxy tells the client of a failure is its own 421 with the
// server's reply code, never the server's text: a reply of the proxy's own
// carries no text a peer chose.
#include <stdexcept>
#include <string>

#include "ftp/dialogue.hpp"

namespace ftp {
namespace {

bool positive(int code) {
    return code >= 200 && code < 300;
}

}  // namespace

// The server's greeting was relayed; `code` is its final code.
void Dialogue::greeting_complete(int code, Actions& out) {
    if (code != 220) {
        // A server that is not ready (421 too many users) closes by itself;
        // nothing is asked of it.
        if (config_.server_tls == ServerTls::Required) {
            out.push_back(action::GreetingReceived{});
            end("the server greeted with " + std::to_string(code) + ", not 220", out);
            return;
        }
        server_setup_done(false, out);
        return;
    }
    server_setup_ = ServerSetup::Auth;
    pending_.emplace_back(Expect::ServerSetup);
    out.push_back(action::ToServer{"AUTH TLS", true});
}

void Dialogue::server_setup_reply(const ReplyLine& reply, std::string_view line, Actions& out) {
    if (!reply.last || is_preliminary(reply.code)) return;
    pending_.pop_front();
    const int code = reply.code;
    switch (server_setup_) {
        case ServerSetup::Auth:
            if (code == 234) {
                server_setup_ = ServerSetup::Handshake;
                server_request_ = {Awaiting::ServerTls, 0, {}};
                out.push_back(action::StartServerTls{});
                return;
            }
            server_declined("AUTH TLS", "AUTH TLS", code, line, "clear text toward the server",
                            out);
            return;
        case ServerSetup::Pbsz:
            if (positive(code)) {
                server_setup_ = ServerSetup::Prot;
                pending_.emplace_back(Expect::ServerSetup);
                out.push_back(action::ToServer{"PROT P", true});
                return;
            }
            [[fallthrough]];
        case ServerSetup::Prot:
            if (positive(code)) {
                server_setup_done(true, out);
                return;
            }
            server_declined("protected data",
                            server_setup_ == ServerSetup::Pbsz ? "PBSZ 0" : "PROT P", code, line,
                            "data connections to it are clear text", out);
            return;
        case ServerSetup::Greeting:
        case ServerSetup::Handshake:
        case ServerSetup::Done:
            break;
    }
    throw std::logic_error("ftp::Dialogue: a server setup reply with no setup step under way");
}

void Dialogue::server_tls_started(Actions& out) {
    if (server_request_.kind != Awaiting::ServerTls)
        throw std::logic_error("ftp::Dialogue: server_tls_started() answers no StartServerTls");
    server_request_ = {};
    server_tls_active_ = true;
    server_setup_ = ServerSetup::Pbsz;
    pending_.emplace_back(Expect::ServerSetup);
    out.push_back(action::ToServer{"PBSZ 0", true});
}

void Dialogue::server_tls_failed(std::string_view reason, Actions& out) {
    if (server_request_.kind != Awaiting::ServerTls)
        throw std::logic_error("ftp::Dialogue: server_tls_failed() answers no StartServerTls");
    server_request_ = {};
    server_tls_refused("TLS toward the server failed: " + std::string(reason),
                       "TLS toward the FTP server failed: " + std::string(reason), out);
}

void Dialogue::server_setup_done(bool data_protected, Actions& out) {
    server_setup_ = ServerSetup::Done;
    server_data_protected_ = data_protected;
    // The greeting's deadline (--server-timeout) covered the setup too.
    out.push_back(action::GreetingReceived{});
}

// The server answered `command` of the setup with `code` (`line`): `what`
// (AUTH TLS, protected data) is refused. Under auto the session goes on
// with `fallback`; under required it ends with a 421 that names the code.
void Dialogue::server_declined(std::string_view what, std::string_view command, int code,
                               std::string_view line, std::string_view fallback, Actions& out) {
    if (config_.server_tls == ServerTls::Required) {
        server_tls_refused("the server refused " + std::string(what) + ": " + std::string(line),
                           "the FTP server answered " + std::to_string(code) + " to " +
                               std::string(command) + ", and this proxy requires TLS toward it",
                           out);
        return;
    }
    out.push_back(action::Log{Severity::Info, false,
                              "the server refused " + std::string(what) + " (" + std::string(line) +
                                  "): " + std::string(fallback)});
    server_setup_done(false, out);
}

// The session ends: `log` for the operator (the server's own words), a 421
// with `what` for the client (never the server's text).
void Dialogue::server_tls_refused(std::string log, std::string what, Actions& out) {
    out.push_back(action::Log{Severity::Warning, false, std::move(log)});
    out.push_back(action::GreetingReceived{});
    out.push_back(action::ToClient{"421 Service not available: " + what + "."});
    end("no TLS toward the server", out);
}

}  // namespace ftp
