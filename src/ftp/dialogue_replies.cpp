// Server side of the dialogue: every reply line is matched with the command
// it answers (the head of the queue) and relayed, filtered or rewritten. The
// 227/229 rewrite is here: complete_passive_reply().
#include <string>
#include <utility>

#include "common/net_address.hpp"
#include "ftp/dialogue.hpp"
#include "ftp/limits.hpp"

namespace ftp {
namespace {

// A multi-line 227/229 is legal but rare; of a longer one, the lines past
// this many are not read for the address (the last line always is).
constexpr std::size_t kMaxHeldReplyLines = 16;

bool is_passive_reply(int code) {
    return code == 227 || code == 229;
}

constexpr const char* kInvalidReply =
    "421 Service not available: the server sent an invalid reply.";

}  // namespace

void Dialogue::server_line(std::string_view line, Actions& out) {
    if (ended_) return;
    check_idle(server_request_.kind, "server_line");
    auto parsed = replies_.feed(line);
    if (auto* problem = std::get_if<ReplyError>(&parsed)) {
        protocol_error(
            "server sent a malformed reply (" + std::string(describe(*problem)) + "): closing",
            out);
        return;
    }
    handle_reply(std::get<ReplyLine>(parsed), line, out);
}

void Dialogue::server_overlong(Actions& out) {
    if (ended_) return;
    check_idle(server_request_.kind, "server_overlong");
    protocol_error("server reply line over " + std::to_string(kMaxReplyLine) + " bytes", out);
}

void Dialogue::protocol_error(std::string_view what, Actions& out) {
    out.push_back(action::Log{Severity::Warning, false, std::string(what)});
    out.push_back(action::ToClient{kInvalidReply});
    end("server protocol error", out);
}

void Dialogue::handle_reply(const ReplyLine& reply, std::string_view line, Actions& out) {
    const bool final = reply.last && !is_preliminary(reply.code);
    const bool asked_passive =
        !pending_.empty() && (pending_.front().kind == Expect::ClientPasv ||
                              pending_.front().kind == Expect::ClientEpsv ||
                              pending_.front().kind == Expect::PortViaPassive);
    std::string withheld;
    if (is_passive_reply(reply.code) && !asked_passive) {
        withheld = withheld_passive_reply(reply, out);
        if (withheld.empty()) return;
        line = withheld;
    }
    if (pending_.empty()) {  // unsolicited, e.g. a 421 before the server closes
        // Over several lines, it holds back the proxy's own replies: one
        // inside it would read as one of its lines.
        if (!reply.last) pending_.emplace_front(Expect::Unsolicited);
        out.push_back(action::ToClient{std::string(line)});
        return;
    }
    Pending& head = pending_.front();
    switch (head.kind) {
        case Expect::Unsolicited:
            out.push_back(action::ToClient{std::string(line)});
            if (reply.last) pop_pending(out);
            return;
        case Expect::Greeting:
            if (final && server_setup_ == ServerSetup::Greeting) {
                // The client has its greeting; its commands wait for the
                // TLS setup toward the server that starts now.
                out.push_back(action::ToClient{std::string(line)});
                pop_pending(out);
                greeting_complete(reply.code, out);
                return;
            }
            if (final) out.push_back(action::GreetingReceived{});
            break;
        case Expect::ServerSetup:
            server_setup_reply(reply, line, out);
            return;
        case Expect::Feat:
            if (!reply.first && !reply.last && !feature_is_carried(line)) return;
            if (final) add_own_features(reply, out);
            break;
        case Expect::ClientPasv:
        case Expect::ClientEpsv:
            // Any other answer to the client's PASV/EPSV is its to read.
            if (!is_passive_reply(reply.code)) break;
            hold_passive_line(reply, line, out);
            return;
        case Expect::PortViaPassive:
            // The client sent PORT: the server's answer to our PASV is not
            // for it to see, whatever it is.
            if (is_preliminary(reply.code)) return;
            hold_passive_line(reply, line, out);
            return;
        case Expect::Transfer:
            if (is_preliminary(reply.code) && reply.last && !head.server_ready) {
                head.server_ready = true;
                if (head.channel != 0 && server_data_protected_)
                    out.push_back(action::ServerDataReady{head.channel});
            }
            if (final && head.channel != 0) {
                // The session ends the data connection first (a download's
                // success waits until every byte reached the client), then
                // relays this reply: transfer_finished().
                server_request_ = {Awaiting::Transfer, 0, std::string(line), !reply.first};
                out.push_back(action::FinishTransfer{head.channel, reply.code, head.download});
                return;
            }
            break;
        case Expect::Rein:
            // RFC 959: REIN resets "all parameters" to what a new connection
            // has. EPSV ALL and a prepared data connection are state the proxy
            // keeps for the server, so they go too, but only once the server
            // has accepted (vsftpd answers 502 and keeps everything).
            if (final && reply.code >= 200 && reply.code < 300) {
                epsv_all_ = false;
                close_prepared(out);
            }
            break;
        case Expect::ActivePort:
            if (final && reply.code >= 300) close_prepared(out);
            break;
        case Expect::Login:
            // 331/332 ask for more (PASS, ACCT): the login is not over.
            if (final && (reply.code == 230 || reply.code >= 400))
                out.push_back(action::LoginAnswered{reply.code == 230});
            break;
        default:
            break;
    }
    out.push_back(action::ToClient{std::string(line)});
    if (final) pop_pending(out);
}

// A line of the server's answer to our PASV/EPSV, held until the reply is
// complete: the client gets one line in its place (a 227/229 of ours, a 200
// for its PORT, or a 425), so the server's address never reaches it and a
// multi-line reply never stays open. Bounded: the first lines are kept (a
// 227's address may be on an inner line), the last closes; inner lines
// beyond that are dropped.
void Dialogue::hold_passive_line(const ReplyLine& reply, std::string_view line, Actions& out) {
    if (!reply.last && held_.size() >= kMaxHeldReplyLines - 1) return;
    // reply.text is where the address is, on inner lines too (they have no code).
    held_.push_back({std::string(line), static_cast<std::size_t>(reply.text.data() - line.data())});
    if (reply.last) complete_passive_reply(reply.code, out);
}

// The server's passive reply is complete (held_): ask for the matching data
// channel, or answer the client that there is none.
void Dialogue::complete_passive_reply(int code, Actions& out) {
    const Pending& head = pending_.front();
    std::optional<Endpoint> server_data;
    if (is_passive_reply(code)) {
        for (const auto& held : held_) {
            server_data = server_data_endpoint(
                code, std::string_view(held.line).substr(held.text_offset), out);
            if (server_data) break;
        }
        if (!server_data)
            refuse(Severity::Warning,
                   "unusable " + std::to_string(code) + " reply from server: " + held_.back().line,
                   out);
    }
    if (!server_data) {
        out.push_back(action::ToClient{
            head.kind == Expect::PortViaPassive
                ? "425 Cannot open data connection: the server refused passive mode (" +
                      held_.back().line + ")."
                : "425 Cannot open data connection: unusable passive reply from the server."});
        held_.clear();
        pop_pending(out);
        return;
    }
    held_.clear();
    const ChannelId channel = next_channel();
    if (head.kind == Expect::PortViaPassive) {
        const std::string verb = head.text;
        out.push_back(action::ConnectBoth{channel, head.client_data, *server_data, data_protected_,
                                          server_data_protected_,
                                          verb == "PORT" ? DataMode::Port : DataMode::Eprt});
        use_channel(channel, true, out);
        out.push_back(action::ToClient{"200 " + verb + " command successful."});
        pop_pending(out);
        return;
    }
    server_request_ = {Awaiting::Passive, channel, {}};
    out.push_back(
        action::OpenPassive{channel, *server_data, data_protected_, server_data_protected_,
                            head.kind == Expect::ClientPasv ? DataMode::Pasv : DataMode::Epsv});
}

// Where the server's passive listener is. The address inside a 227 reply is
// not trusted (a hostile or misconfigured server could point us anywhere):
// the server's control address is used, with the port from the reply.
std::optional<Endpoint> Dialogue::server_data_endpoint(int code, std::string_view text,
                                                       Actions& out) {
    if (code == 229) {
        auto port = parse_229_text(text);
        if (!port) return std::nullopt;
        return Endpoint{config_.server, *port};
    }
    auto announced = parse_227_text(text);
    if (!announced) return std::nullopt;
    if (common::canonical(announced->address()) != config_.server)
        refuse(Severity::Warning,
               "server announced data address " + announced->address().to_string() +
                   " in 227; using its control address " + config_.server.to_string(),
               out);
    return Endpoint{config_.server, announced->port()};
}

// A 227/229 that answers no PASV/EPSV of ours would hand the client the
// server's own address and port (the proxy is there to hide them, and in
// forward mode to be the only way to them). Its code and shape are kept so
// the client's reply parsing stays in step; the address never passes.
// Returns what replaces the line: empty for an inner line (dropped).
std::string Dialogue::withheld_passive_reply(const ReplyLine& reply, Actions& out) {
    if (reply.first)
        refuse(Severity::Warning,
               "server sent a " + std::to_string(reply.code) +
                   " reply that answers no PASV/EPSV of ours: withheld from the client",
               out);
    if (!reply.first && !reply.last) return {};
    return std::to_string(reply.code) + (reply.last ? ' ' : '-') +
           "Passive reply withheld by the proxy (no PASV/EPSV was sent).";
}

}  // namespace ftp
