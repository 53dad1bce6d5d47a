// The dialogue's shared parts: the queue of replies due, the data channel
// being prepared, and the answers to requests. Client commands are in
// dialogue_commands.cpp, server replies in dialogue_replies.cpp.
#include "ftp/dialogue.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "ftp/limits.hpp"

namespace ftp {

Dialogue::Dialogue(DialogueConfig config) : config_(std::move(config)) {
    pending_.emplace_back(Expect::Greeting);
    if (config_.server_tls != ServerTls::Off) server_setup_ = ServerSetup::Greeting;
    if (config_.implicit_tls) tls_active_ = pbsz_done_ = data_protected_ = true;
}

void Dialogue::client_overlong(Actions& out) {
    if (ended_) return;
    check_idle(client_request_.kind, "client_overlong");
    refuse(Severity::Warning,
           "command line over " + std::to_string(kMaxCommandLine) + " bytes refused", out);
    refuse_command(
        Refusal::LineTooLong,
        "500 Command line too long (limit " + std::to_string(kMaxCommandLine) + " bytes).", out);
}

void Dialogue::client_closed(Actions& out) {
    if (ended_) return;
    // Only the greeting due: the client asked for nothing and is gone (a
    // client that gave up on a server slow to greet); waiting for the
    // greeting would hold the session for --server-timeout.
    const bool asked_nothing = pending_.size() == 1 && pending_.front().kind == Expect::Greeting;
    if (pending_.empty() || asked_nothing) {
        end("client closed", out);
        return;
    }
    // A client that half-closes right after its last command (a script:
    // printf 'USER ...\r\nPWD\r\n' | nc -N) still reads the replies due. The
    // session ends once the last of them is relayed (pop_pending).
    client_closed_ = true;
    out.push_back(action::Log{Severity::Debug, false,
                              "client half-closed; " + std::to_string(pending_.size()) +
                                  (pending_.size() == 1 ? " reply" : " replies") + " still due"});
}

void Dialogue::active_opened(const Endpoint& listener, Actions& out) {
    if (client_request_.kind != Awaiting::Active)
        throw std::logic_error("ftp::Dialogue: active_opened() answers no OpenActive");
    const ChannelId channel = std::exchange(client_request_, {}).channel;
    use_channel(channel, false, out);
    out.push_back(action::ToServer{config_.server_ipv4 ? "PORT " + format_port_argument(listener)
                                                       : "EPRT " + format_eprt_argument(listener),
                                   true});
    pending_.emplace_back(Expect::ActivePort);
}

void Dialogue::client_leg_ready(Actions& out) {
    if (client_request_.kind != Awaiting::ClientLeg)
        throw std::logic_error("ftp::Dialogue: client_leg_ready() answers no ExpectClientLeg");
    auto request = std::exchange(client_request_, {});
    out.push_back(action::ToServer{request_line(), true});
    Pending pending(Expect::PortViaPassive, std::move(request.verb));
    pending.client_data = request.client_data;
    pending_.push_back(std::move(pending));
}

void Dialogue::active_refused(std::string_view reason, Actions& out) {
    if (client_request_.kind != Awaiting::Active && client_request_.kind != Awaiting::ClientLeg)
        throw std::logic_error("ftp::Dialogue: active_refused() answers no client-side request");
    client_request_ = {};
    reply_local("425 Cannot open data connection: " + std::string(reason) + ".", out);
}

void Dialogue::passive_opened(const Endpoint& announced, Actions& out) {
    if (server_request_.kind != Awaiting::Passive)
        throw std::logic_error("ftp::Dialogue: passive_opened() answers no OpenPassive");
    const ChannelId channel = std::exchange(server_request_, {}).channel;
    const bool pasv = pending_.front().kind == Expect::ClientPasv;
    use_channel(channel, true, out);
    out.push_back(
        action::ToClient{pasv ? format_227_reply(announced) : format_229_reply(announced.port())});
    pop_pending(out);
}

void Dialogue::passive_refused(std::string_view reason, Actions& out) {
    if (server_request_.kind != Awaiting::Passive)
        throw std::logic_error("ftp::Dialogue: passive_refused() answers no OpenPassive");
    server_request_ = {};
    out.push_back(
        action::ToClient{"425 Cannot open data connection: " + std::string(reason) + "."});
    pop_pending(out);
}

void Dialogue::transfer_finished(Actions& out, std::string_view refusal) {
    if (server_request_.kind != Awaiting::Transfer)
        throw std::logic_error("ftp::Dialogue: transfer_finished() answers no FinishTransfer");
    const ServerRequest request = std::exchange(server_request_, {});
    std::string reply = request.reply;
    if (!refusal.empty()) {
        const bool keep_code =
            request.reply_began || reply.starts_with('4') || reply.starts_with('5');
        reply = (keep_code ? reply.substr(0, 3) : std::string("426")) + " " + std::string(refusal);
    }
    out.push_back(action::ToClient{std::move(reply)});
    pop_pending(out);
}

// Before the replies due to earlier commands, a reply of the proxy's own
// would overtake them: it waits in the queue.
void Dialogue::reply_local(std::string text, Actions& out) {
    if (pending_.empty()) {
        out.push_back(action::ToClient{std::move(text)});
        return;
    }
    pending_.emplace_back(Expect::Local, std::move(text));
}

void Dialogue::pop_pending(Actions& out) {
    if (!pending_.empty()) pending_.pop_front();
    while (!pending_.empty() && pending_.front().kind == Expect::Local) {
        out.push_back(action::ToClient{std::move(pending_.front().text)});
        pending_.pop_front();
    }
    // The client half-closed and has now had every reply it was due.
    if (client_closed_ && pending_.empty()) end("client closed", out);
}

void Dialogue::end(std::string reason, Actions& out) {
    ended_ = true;
    out.push_back(action::End{std::move(reason)});
}

// A new data channel replaces the one prepared. "PASV\r\nLIST\r\n" in one
// segment: the LIST went to the server before the 227 that creates the
// channel came back, so it has no channel yet. Replies come in order, so
// with adopt_pipelined the first such transfer queued is this channel's.
void Dialogue::use_channel(ChannelId channel, bool adopt_pipelined, Actions& out) {
    close_prepared(out);
    if (adopt_pipelined) {
        for (auto& pending : pending_) {
            if (pending.kind == Expect::Transfer && pending.channel == 0) {
                pending.channel = channel;
                out.push_back(action::StartTransfer{channel, pending.text, pending.download});
                if (pending.server_ready && server_data_protected_)
                    out.push_back(action::ServerDataReady{channel});
                return;
            }
        }
    }
    prepared_ = channel;
}

void Dialogue::close_prepared(Actions& out) {
    if (prepared_ != 0) out.push_back(action::CloseChannel{std::exchange(prepared_, 0)});
}

void Dialogue::check_idle(Awaiting side, const char* input) {
    if (side != Awaiting::Nothing)
        throw std::logic_error(std::string("ftp::Dialogue: ") + input +
                               "() while a request of that side is unanswered");
}

void Dialogue::refuse(Severity severity, std::string text, Actions& out) {
    out.push_back(action::Log{severity, true, std::move(text)});
}

void Dialogue::refuse_command(Refusal reason, std::string reply, Actions& out) {
    out.push_back(action::Refused{reason});
    reply_local(std::move(reply), out);
}

std::string_view refusal_name(Refusal refusal) {
    switch (refusal) {
        case Refusal::LineTooLong:
            return "line_too_long";
        case Refusal::Syntax:
            return "syntax";
        case Refusal::Bounce:
            return "bounce";
        case Refusal::Argument:
            return "argument";
        case Refusal::NotSupported:
            return "not_supported";
        case Refusal::Sequence:
            return "sequence";
        case Refusal::AnonymousOnly:
            return "anonymous_only";
        case Refusal::TlsRequired:
            return "tls_required";
    }
    return "unknown";
}

std::string_view data_mode_name(DataMode mode) {
    switch (mode) {
        case DataMode::Pasv:
            return "pasv";
        case DataMode::Epsv:
            return "epsv";
        case DataMode::Port:
            return "port";
        case DataMode::Eprt:
            return "eprt";
    }
    return "unknown";
}

}  // namespace ftp
