// Client side of the dialogue: every command line is parsed, checked against
// the policy, and then forwarded, rewritten, or answered by the proxy.
#include <string>
#include <utility>

#include "common/net_address.hpp"
#include "common/printable.hpp"
#include "ftp/dialogue.hpp"
#include "ftp/policy.hpp"

namespace ftp {

void Dialogue::client_line(std::string_view line, Actions& out) {
    if (ended_) return;
    check_idle(client_request_.kind, "client_line");
    auto parsed = parse_command(line);
    if (auto* problem = std::get_if<CommandError>(&parsed)) {
        refuse(Severity::Warning, "refused command line: " + std::string(describe(*problem)), out);
        refuse_command(Refusal::Syntax,
                       *problem == CommandError::ControlCharacter
                           ? "500 Command line contains control characters."
                           : "500 Syntax error, command unrecognized.",
                       out);
        return;
    }
    const auto& command = std::get<Command>(parsed);
    if (config_.verbose)
        out.push_back(action::Log{Severity::Notice, false, "> " + loggable_command(command)});
    handle_command(command, out);
}

void Dialogue::handle_command(const Command& command, Actions& out) {
    if (handle_security(command, out)) return;
    switch (command.verb) {
        case Verb::User:
            if (config_.anonymous_only && !is_anonymous_user(command.argument)) {
                refuse(Severity::Warning, "non-anonymous login refused (-A)", out);
                refuse_command(Refusal::AnonymousOnly,
                               "530 Only anonymous logins are allowed through this proxy.", out);
                return;
            }
            user_ = common::printable(command.argument.substr(0, kMaxShownUser));
            break;
        case Verb::Pasv:
        case Verb::Epsv:
            handle_passive(command, out);
            return;
        case Verb::Port:
        case Verb::Eprt:
            handle_port(command, out);
            return;
        case Verb::Lprt:
        case Verb::Lpsv:
            refuse_command(Refusal::NotSupported,
                           "502 " + upper(command.verb_text) + " is not supported; use EPRT/EPSV.",
                           out);
            return;
        case Verb::Feat:
            pass_to_server(command, Pending(Expect::Feat), out);
            return;
        case Verb::Quit:
            pass_to_server(command, Pending(Expect::Quit), out);
            return;
        case Verb::Rein:
            // REIN would take the server back to clear text (RFC 4217),
            // behind the proxy's back.
            if (server_tls_active_) {
                refuse_command(Refusal::NotSupported,
                               "502 REIN is not supported: the connection to the server is TLS.",
                               out);
                return;
            }
            pass_to_server(command, Pending(Expect::Rein), out);
            return;
        default:
            break;
    }
    if (is_security_extension(command.verb)) {
        refuse(Severity::Info, upper(command.verb_text) + " refused: FTPS is not carried", out);
        refuse_command(Refusal::NotSupported,
                       "502 " + upper(command.verb_text) +
                           " is not supported by this proxy (FTPS is not carried yet).",
                       out);
        return;
    }
    if (is_transfer(command.verb)) {
        Pending pending(Expect::Transfer);
        pending.download = is_download(command.verb);
        pending.channel = std::exchange(prepared_, 0);
        pending.text = upper(command.verb_text);
        if (!command.argument.empty()) pending.text += " " + std::string(command.argument);
        if (pending.channel != 0)
            out.push_back(action::StartTransfer{pending.channel, pending.text, pending.download});
        pass_to_server(command, std::move(pending), out);
        return;
    }
    const bool login =
        command.verb == Verb::User || command.verb == Verb::Pass || command.verb == Verb::Acct;
    pass_to_server(command, Pending(login ? Expect::Login : Expect::Plain), out);
}

// Client PASV/EPSV: ask the server for a passive port in the form its family
// allows; its reply makes the session open our listener (OpenPassive), and
// the client is answered in the form it asked for.
void Dialogue::handle_passive(const Command& command, Actions& out) {
    const bool pasv = command.verb == Verb::Pasv;
    if (!pasv && iequals(command.argument, "ALL")) {
        epsv_all_ = true;
        reply_local("200 EPSV ALL accepted.", out);
        return;
    }
    if (pasv && epsv_all_) {
        refuse_command(Refusal::Sequence, "503 Only EPSV is allowed after EPSV ALL.", out);
        return;
    }
    if (pasv && !config_.client_ipv4) {
        refuse_command(Refusal::NotSupported, "425 PASV cannot describe an IPv6 address; use EPSV.",
                       out);
        return;
    }
    if (!pasv && !command.argument.empty()) {
        auto wanted = epsv_protocol(command.argument);
        const bool numeric =
            command.argument.find_first_not_of("0123456789") == std::string_view::npos;
        if (!wanted && !numeric) {
            refuse_command(Refusal::Argument, "501 Malformed EPSV argument.", out);
            return;
        }
        // RFC 2428: a protocol we do not serve on this connection is 522.
        if (!wanted || *wanted != (config_.client_ipv4 ? 1 : 2)) {
            refuse_command(Refusal::NotSupported,
                           std::string("522 Network protocol not supported, use (") +
                               (config_.client_ipv4 ? "1" : "2") + ")",
                           out);
            return;
        }
    }
    close_prepared(out);
    pending_.emplace_back(pasv ? Expect::ClientPasv : Expect::ClientEpsv);
    out.push_back(action::ToServer{request_line(), true});
}

// Client PORT/EPRT: refuse bounces, then either make the server connect to
// a listener of ours (OpenActive), or (--passive-to-server) use passive mode
// toward it (ExpectClientLeg).
void Dialogue::handle_port(const Command& command, Actions& out) {
    const bool port = command.verb == Verb::Port;
    const std::string name = port ? "PORT" : "EPRT";
    if (epsv_all_) {
        refuse_command(Refusal::Sequence, "503 Only EPSV is allowed after EPSV ALL.", out);
        return;
    }
    std::optional<Endpoint> target =
        port ? parse_port_argument(command.argument) : parse_eprt_argument(command.argument);
    if (!target) {
        auto protocol = port ? std::nullopt : eprt_protocol(command.argument);
        if (protocol && *protocol != 1 && *protocol != 2) {
            refuse_command(Refusal::NotSupported, "522 Network protocol not supported, use (1,2)",
                           out);
        } else {
            refuse(Severity::Warning, "malformed " + name + " argument refused", out);
            refuse_command(Refusal::Argument, "501 Malformed " + name + " argument.", out);
        }
        return;
    }
    const Endpoint client_data = common::canonical(*target);
    if (auto refusal = check_active_target(client_data, config_.client)) {
        refuse(Severity::Warning,
               name + " to " + common::format_endpoint(client_data) + " refused: " +
                   std::string(*refusal) + " (client is " + config_.client.to_string() + ")",
               out);
        refuse_command(Refusal::Bounce, "500 Illegal PORT command: " + std::string(*refusal) + ".",
                       out);
        return;
    }
    close_prepared(out);
    if (config_.passive_to_server) {
        client_request_ = {Awaiting::ClientLeg, name, client_data, 0};
        out.push_back(action::ExpectClientLeg{client_data});
        return;
    }
    const ChannelId channel = next_channel();
    client_request_ = {Awaiting::Active, name, client_data, channel};
    out.push_back(action::OpenActive{channel, client_data, data_protected_, server_data_protected_,
                                     port ? DataMode::Port : DataMode::Eprt});
}

void Dialogue::pass_to_server(const Command& command, Pending pending, Actions& out) {
    std::string line(command.verb_text);
    if (!command.argument.empty() || command.verb == Verb::Pass) {
        line += ' ';
        line += command.argument;
    }
    pending_.push_back(std::move(pending));
    out.push_back(action::ToServer{std::move(line)});
}

// The proxy's own passive request, in the form the server's family allows.
std::string Dialogue::request_line() const {
    return config_.server_ipv4 ? "PASV" : "EPSV";
}

}  // namespace ftp
