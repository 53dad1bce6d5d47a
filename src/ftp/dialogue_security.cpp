// Explicit FTPS on the client's side (RFC 4217): AUTH, PBSZ, PROT and CCC
// are the proxy's to answer, never the server's (the server side is clear
// text), and the TLS policy (--client-tls) decides what may happen before
// them. The TLS itself is the session's: StartClientTls asks for it, and
// data channels learn from their request whether their client leg is TLS.
#include <stdexcept>
#include <string>

#include "ftp/dialogue.hpp"
#include "ftp/policy.hpp"

namespace ftp {
namespace {

// What FEAT adds when the proxy carries TLS (the server's own lines for
// these are filtered out: they describe the server's side).
constexpr const char* kOwnFeatures[] = {" AUTH TLS", " PBSZ", " PROT"};

bool is_login(Verb verb) {
    return verb == Verb::User || verb == Verb::Pass || verb == Verb::Acct;
}

}  // namespace

// True when the command was answered here.
bool Dialogue::handle_security(const Command& command, Actions& out) {
    if (config_.client_tls == ClientTls::Off) return false;
    if (refused_by_tls_policy(command, out)) return true;
    switch (command.verb) {
        case Verb::Auth:
            handle_auth(command, out);
            return true;
        case Verb::Pbsz:
            handle_pbsz(command, out);
            return true;
        case Verb::Prot:
            handle_prot(command, out);
            return true;
        case Verb::Ccc:
            refuse(Severity::Info, "CCC refused: the control connection stays encrypted", out);
            refuse_command(Refusal::NotSupported,
                           "534 CCC refused: this proxy keeps the control connection encrypted.",
                           out);
            return true;
        case Verb::Rein:
            // RFC 4217 makes REIN drop the TLS state, back to clear text on a
            // connection that was protected: not offered.
            if (!tls_active_) return false;
            refuse_command(Refusal::NotSupported,
                           "502 REIN is not supported on a TLS control connection.", out);
            return true;
        default:
            return false;
    }
}

// --client-tls required: no login in clear text, no data in clear text.
bool Dialogue::refused_by_tls_policy(const Command& command, Actions& out) {
    if (config_.client_tls != ClientTls::Required) return false;
    if (is_login(command.verb) && !tls_active_) {
        refuse(Severity::Info, upper(command.verb_text) + " refused: TLS is required first", out);
        refuse_command(
            Refusal::TlsRequired,
            "530 This proxy requires TLS: send AUTH TLS before " + upper(command.verb_text) + ".",
            out);
        return true;
    }
    if (is_transfer(command.verb) && !data_protected_) {
        // vsftpd's force_local_data_ssl answers the same way.
        close_prepared(out);
        refuse(Severity::Info, upper(command.verb_text) + " refused: PROT P is required", out);
        refuse_command(Refusal::TlsRequired,
                       "521 Data connections must be protected: send PROT P first.", out);
        return true;
    }
    return false;
}

void Dialogue::handle_auth(const Command& command, Actions& out) {
    const bool tls = iequals(command.argument, "TLS") || iequals(command.argument, "TLS-C") ||
                     iequals(command.argument, "SSL");
    if (!tls) {
        // The argument is not echoed: a reply of the proxy's own carries no
        // text a client chose (found by fuzzing: it could mimic anything).
        refuse_command(Refusal::NotSupported,
                       "504 This AUTH mechanism is not supported; use AUTH TLS.", out);
        return;
    }
    if (tls_active_) {
        refuse_command(Refusal::Sequence, "503 TLS is already active on this connection.", out);
        return;
    }
    // The 234 must be the last clear-text reply, and the handshake must
    // start right after it: behind replies still due, either the 234 would
    // wait for them or they would overtake it. Clients wait for each reply
    // before AUTH; one that pipelines it is refused.
    if (!pending_.empty()) {
        refuse_command(Refusal::Sequence,
                       "503 AUTH must not be pipelined: wait for the replies due first.", out);
        return;
    }
    out.push_back(action::Log{Severity::Info, false,
                              "client asked for TLS (AUTH " + upper(command.argument) + ")"});
    out.push_back(action::ToClient{"234 AUTH " + upper(command.argument) + " accepted."});
    client_request_ = {Awaiting::ClientTls, {}, {}, 0};
    out.push_back(action::StartClientTls{});
}

void Dialogue::client_tls_started(Actions& out) {
    if (client_request_.kind != Awaiting::ClientTls)
        throw std::logic_error("ftp::Dialogue: client_tls_started() answers no StartClientTls");
    client_request_ = {};
    tls_active_ = true;
    out.push_back(action::Log{Severity::Debug, false, "client TLS established"});
}

// RFC 4217: PBSZ 0 is the only buffer size of TLS; any other is answered
// with the one in force ("PBSZ=0").
void Dialogue::handle_pbsz(const Command& command, Actions& out) {
    if (!tls_active_) {
        refuse_command(Refusal::Sequence,
                       "503 PBSZ needs a TLS control connection: send AUTH TLS first.", out);
        return;
    }
    const auto& size = command.argument;
    if (size.empty() || size.size() > 10 || size.find_first_not_of("0123456789") != size.npos) {
        refuse_command(Refusal::Argument, "501 PBSZ needs a decimal buffer size.", out);
        return;
    }
    pbsz_done_ = true;
    reply_local(size.find_first_not_of('0') == size.npos ? "200 PBSZ 0 accepted." : "200 PBSZ=0",
                out);
}

void Dialogue::handle_prot(const Command& command, Actions& out) {
    if (!tls_active_ || !pbsz_done_) {
        refuse_command(Refusal::Sequence,
                       tls_active_
                           ? "503 PROT needs PBSZ first."
                           : "503 PROT needs a TLS control connection: send AUTH TLS first.",
                       out);
        return;
    }
    if (iequals(command.argument, "P") || iequals(command.argument, "C")) {
        data_protected_ = iequals(command.argument, "P");
        reply_local(data_protected_ ? "200 PROT P: data connections are protected."
                                    : "200 PROT C: data connections are clear.",
                    out);
        return;
    }
    if (iequals(command.argument, "S") || iequals(command.argument, "E")) {
        refuse_command(Refusal::NotSupported,
                       "536 PROT " + upper(command.argument) + " is not supported; use P or C.",
                       out);
        return;
    }
    refuse_command(Refusal::Argument, "504 PROT needs one of C, S, E, P.", out);
}

// The last line of the server's FEAT reply: the proxy's own features go
// before it. A one-line 211 becomes a multi-line one to hold them.
void Dialogue::add_own_features(const ReplyLine& reply, Actions& out) {
    if (config_.client_tls == ClientTls::Off || reply.code != 211) return;
    if (reply.first) out.push_back(action::ToClient{"211-Features:"});
    for (const char* feature : kOwnFeatures) out.push_back(action::ToClient{feature});
}

}  // namespace ftp
