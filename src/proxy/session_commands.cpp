// Client side of a session: every command line is parsed, checked against
// the policy, and then forwarded, rewritten, or answered by the proxy.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "ftp/address_codec.hpp"
#include "proxy/net.hpp"
#include "proxy/policy.hpp"
#include "proxy/session.hpp"

namespace proxy {

awaitable<void> Session::handle_client_line(std::string_view line) {
    auto parsed = ftp::parse_command(line);
    if (auto* problem = std::get_if<ftp::CommandError>(&parsed)) {
        activity_->log_provoked(spdlog::level::warn, tag_, "refused command line: {}",
                                ftp::describe(*problem));
        reply_local(*problem == ftp::CommandError::ControlCharacter
                        ? "500 Command line contains control characters."
                        : "500 Syntax error, command unrecognized.");
        co_return;
    }
    const auto& command = std::get<ftp::Command>(parsed);
    if (settings_.verbose) spdlog::info("{} > {}", tag_, loggable_command(command));
    co_await handle_command(command);
}

awaitable<void> Session::handle_command(const ftp::Command& command) {
    using ftp::Verb;
    switch (command.verb) {
        case Verb::User:
            if (settings_.anonymous_only && !is_anonymous_user(command.argument)) {
                activity_->log_provoked(spdlog::level::warn, tag_,
                                        "non-anonymous login refused (-A)");
                reply_local("530 Only anonymous logins are allowed through this proxy.");
                co_return;
            }
            break;
        case Verb::Pasv:
        case Verb::Epsv:
            co_await handle_pasv(command);
            co_return;
        case Verb::Port:
        case Verb::Eprt:
            co_await handle_port(command);
            co_return;
        case Verb::Lprt:
        case Verb::Lpsv:
            reply_local("502 " + upper(command.verb_text) + " is not supported; use EPRT/EPSV.");
            co_return;
        case Verb::Feat:
            co_await forward(command, Expect::Feat);
            co_return;
        case Verb::Quit:
            co_await forward(command, Expect::Quit);
            co_return;
        case Verb::Rein:
            co_await forward(command, Expect::Rein);
            co_return;
        default:
            break;
    }
    if (ftp::is_security_extension(command.verb)) {
        activity_->log_provoked(spdlog::level::debug, tag_, "{} refused: FTPS is not carried",
                                upper(command.verb_text));
        reply_local("502 " + upper(command.verb_text) +
                    " is not supported by this proxy (FTPS is not carried yet).");
        co_return;
    }
    if (ftp::is_transfer(command.verb)) {
        Pending pending{Expect::Transfer};
        pending.download = is_download(command.verb);
        pending.channel = std::exchange(channel_, nullptr);
        pending.text = upper(command.verb_text);
        if (!command.argument.empty()) pending.text += " " + std::string(command.argument);
        if (pending.channel) pending.channel->start_transfer(pending.text, pending.download);
        co_await forward(command, std::move(pending));
        co_return;
    }
    co_await forward(command, Expect::Plain);
}

// Client PASV/EPSV: ask the server for a passive port in the form its family
// allows; the reply handler opens our listener and answers the client.
awaitable<void> Session::handle_pasv(const ftp::Command& command) {
    const bool pasv = command.verb == ftp::Verb::Pasv;
    if (!pasv && iequals(command.argument, "ALL")) {
        epsv_all_ = true;
        reply_local("200 EPSV ALL accepted.");
        co_return;
    }
    if (pasv && epsv_all_) {
        reply_local("503 Only EPSV is allowed after EPSV ALL.");
        co_return;
    }
    if (pasv && !client_local_.address().is_v4()) {
        reply_local("425 PASV cannot describe an IPv6 address; use EPSV.");
        co_return;
    }
    if (!pasv && !command.argument.empty()) {
        auto wanted = epsv_protocol(command.argument);
        const bool numeric =
            command.argument.find_first_not_of("0123456789") == std::string_view::npos;
        if (!wanted && !numeric) {
            reply_local("501 Malformed EPSV argument.");
            co_return;
        }
        // RFC 2428: a protocol we do not serve on this connection is 522.
        if (!wanted || *wanted != (client_local_.address().is_v4() ? 1 : 2)) {
            reply_local(std::string("522 Network protocol not supported, use (") +
                        (client_local_.address().is_v4() ? "1" : "2") + ")");
            co_return;
        }
    }
    replace_channel(nullptr);
    // Named, not a temporary in the co_await: g++ 12 destroys temporaries of a
    // conditional expression inside co_await twice.
    std::string request = server_local_.address().is_v4() ? "PASV" : "EPSV";
    spdlog::trace("{} to server: {}", tag_, request);
    co_await send_to_server(std::move(request));
    pending_.emplace_back(pasv ? Expect::ClientPasv : Expect::ClientEpsv);
}

// Client PORT/EPRT: refuse bounces, then either make the server connect to
// a listener of ours, or (--passive-to-server) use passive mode toward it.
awaitable<void> Session::handle_port(const ftp::Command& command) {
    const bool port = command.verb == ftp::Verb::Port;
    const char* name = port ? "PORT" : "EPRT";
    if (epsv_all_) {
        reply_local("503 Only EPSV is allowed after EPSV ALL.");
        co_return;
    }
    std::optional<tcp::endpoint> target = port ? ftp::parse_port_argument(command.argument)
                                               : ftp::parse_eprt_argument(command.argument);
    if (!target) {
        auto protocol = port ? std::nullopt : ftp::eprt_protocol(command.argument);
        if (protocol && *protocol != 1 && *protocol != 2) {
            reply_local("522 Network protocol not supported, use (1,2)");
        } else {
            activity_->log_provoked(spdlog::level::warn, tag_, "malformed {} argument refused",
                                    name);
            reply_local(std::string("501 Malformed ") + name + " argument.");
        }
        co_return;
    }
    auto refusal = check_active_target(canonical(*target), client_peer_.address());
    if (refusal) {
        activity_->log_provoked(spdlog::level::warn, tag_, "{} to {} refused: {} (client is {})",
                                name, to_string(*target), *refusal,
                                client_peer_.address().to_string());
        reply_local("500 Illegal PORT command: " + std::string(*refusal) + ".");
        co_return;
    }
    replace_channel(nullptr);
    const bool server_v4 = server_local_.address().is_v4();
    const tcp::endpoint client_data = canonical(*target);
    const tcp::endpoint source = active_source();
    if (settings_.passive_to_server) {
        if (!expect_client_leg(source, client_data)) {
            reply_local("425 Cannot open data connection: the firewall refused the rule.");
            co_return;
        }
        std::string request = server_v4 ? "PASV" : "EPSV";
        spdlog::trace("{} to server: {}", tag_, request);
        co_await send_to_server(std::move(request));
        Pending pending{Expect::PortViaPassive, name};
        pending.client_data = client_data;
        pending_.push_back(std::move(pending));
        co_return;
    }
    error_code error;
    auto listener = listen_on(io_, server_local_.address(), settings_.passive_ports, error);
    if (error) {
        spdlog::error("{} cannot listen for the server's data connection: {}", tag_,
                      error.message());
        reply_local("425 Cannot open data connection: " + error.message() + ".");
        co_return;
    }
    auto channel =
        DataChannel::create(io_, tag_, activity_, DataEnd::connect(client_data, source),
                            DataEnd::accept(std::move(listener), server_endpoint_.address()),
                            settings_.data_timeout, settings_.relay);
    auto ours = channel->server_listen_endpoint();
    if (!expect_server_connection(ours, source, client_data)) {
        channel->close();
        reply_local("425 Cannot open data connection: the firewall refused the rule.");
        co_return;
    }
    replace_channel(channel);
    std::string request = server_v4 ? "PORT " + ftp::format_port_argument(ours)
                                    : "EPRT " + ftp::format_eprt_argument(ours);
    spdlog::trace("{} to server: {}", tag_, request);
    co_await send_to_server(std::move(request));
    pending_.emplace_back(Expect::ActivePort);
}

// Where active-mode data connections to the client come from, with port 20
// under -r. Reverse mode: the address the client reached us on, the one it
// dialled. Forward mode: the control connection's local address is not ours
// to use (127.0.0.1 after `dnat to 127.0.0.1`, which cannot reach the
// client; the server's own address under --tproxy), so the route toward the
// client chooses, named here because the firewall's source NAT to the
// server's address (expect_server_connection) is keyed on it.
tcp::endpoint Session::active_source() const {
    auto port = static_cast<std::uint16_t>(settings_.data_from_port_20 ? 20 : 0);
    if (!settings_.forward) return {client_local_.address(), port};
    error_code error;
    auto source = source_toward(io_, client_peer_.address(), error);
    if (!error) return {source, port};
    spdlog::warn("{} no route toward the client {}: {}", tag_, client_peer_.address().to_string(),
                 error.message());
    if (client_peer_.address().is_v4()) return {asio::ip::address_v4::any(), port};
    return {asio::ip::address_v6::any(), port};
}

awaitable<void> Session::forward(const ftp::Command& command, Expect kind) {
    Pending pending(kind);
    co_await forward(command, std::move(pending));
}

awaitable<void> Session::forward(const ftp::Command& command, Pending pending) {
    std::string line(command.verb_text);
    if (!command.argument.empty() || command.verb == ftp::Verb::Pass) {
        line += ' ';
        line += command.argument;
    }
    pending_.push_back(std::move(pending));
    co_await send_to_server(std::move(line));
}

// Not logged here: forwarded commands are logged (masked) on arrival, and
// the proxy's own PASV/PORT requests where they are made.
awaitable<void> Session::send_to_server(std::string line) {
    line += "\r\n";
    error_code error;
    std::size_t sent = 0;
    // A command line nearly always fits the socket buffer: one non-blocking
    // send now saves a trip through the scheduler (an async_write completes
    // through a posted handler). The rest, if any, goes the asynchronous way.
    if (!server_writing_) {
        sent = server_.write_some(asio::buffer(line), error);
        if (error == asio::error::would_block || error == asio::error::try_again) {
            error.clear();
            sent = 0;
        }
    }
    if (!error && sent < line.size()) {
        server_writing_ = true;
        co_await asio::async_write(server_, asio::buffer(line.data() + sent, line.size() - sent),
                                   with_error(error));
        server_writing_ = false;
    }
    if (error) end("server write error: " + error.message());
}

}  // namespace proxy
