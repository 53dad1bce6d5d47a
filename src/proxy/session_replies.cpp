// Server side of a session: every reply line is matched with the command it
// answers (the head of pending_) and relayed, filtered or rewritten.
#include <spdlog/spdlog.h>

#include "ftp/address_codec.hpp"
#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {
namespace {

// A multi-line 227/229 is legal but rare; more lines than this is not a
// passive reply we can rewrite, so it is relayed as it is.
constexpr std::size_t kMaxHeldReplyLines = 16;

bool is_passive_reply(int code) {
    return code == 227 || code == 229;
}

}  // namespace

void Session::reply_to_client(std::string_view line) {
    if (settings_.verbose) spdlog::info("{} < {}", tag_, line);
    std::string bytes(line);
    bytes += "\r\n";
    writer_.post(bytes);
}

void Session::reply_local(std::string text) {
    if (pending_.empty()) {
        reply_to_client(text);
        return;
    }
    pending_.emplace_back(Expect::Local, std::move(text));
}

void Session::pop_pending() {
    if (!pending_.empty()) pending_.pop_front();
    replies_popped_.notify();
    while (!pending_.empty() && pending_.front().kind == Expect::Local) {
        reply_to_client(pending_.front().text);
        pending_.pop_front();
    }
    // The client half-closed and has now had every reply it was due.
    if (client_closed_ && pending_.empty()) end("client closed");
}

// A 227/229 that answers no PASV/EPSV of ours would hand the client the
// server's own address and port (the proxy is there to hide them, and in
// forward mode to be the only way to them). Its code and shape are kept so
// the client's reply parsing stays in step; the address never passes.
// Returns what replaces the line: empty for an inner line (dropped).
std::string Session::withheld_passive_reply(const ftp::ReplyLine& reply) {
    if (reply.first)
        activity_->log_provoked(spdlog::level::warn, tag_,
                                "server sent a {} reply that answers no PASV/EPSV of ours: "
                                "withheld from the client",
                                reply.code);
    if (!reply.first && !reply.last) return {};
    const char separator = reply.last ? ' ' : '-';
    return fmt::format("{}{}Passive reply withheld by the proxy (no PASV/EPSV was sent).",
                       reply.code, separator);
}

awaitable<void> Session::handle_reply_line(const ftp::ReplyLine& reply, std::string_view line) {
    const bool final = reply.last && !ftp::is_preliminary(reply.code);
    const bool asked_passive =
        !pending_.empty() && (pending_.front().kind == Expect::ClientPasv ||
                              pending_.front().kind == Expect::ClientEpsv ||
                              pending_.front().kind == Expect::PortViaPassive);
    std::string withheld;
    if (is_passive_reply(reply.code) && !asked_passive) {
        withheld = withheld_passive_reply(reply);
        if (withheld.empty()) co_return;
        line = withheld;
    }
    if (pending_.empty()) {  // unsolicited, e.g. a 421 before the server closes
        reply_to_client(line);
        co_return;
    }
    Pending& head = pending_.front();
    switch (head.kind) {
        case Expect::Greeting:
            if (final) server_deadline_.cancel();  // greeting_watch: it came
            reply_to_client(line);
            break;
        case Expect::Feat:
            if (reply.first || reply.last || ftp::feature_is_carried(line)) reply_to_client(line);
            break;
        case Expect::ClientPasv:
        case Expect::ClientEpsv:
        case Expect::PortViaPassive:
            held_reply_.emplace_back(line);
            if (reply.last) {
                complete_passive_reply(head, reply.code);
                held_reply_.clear();
            } else if (held_reply_.size() >= kMaxHeldReplyLines) {
                for (const auto& held : held_reply_) reply_to_client(held);
                held_reply_.clear();
            }
            break;
        case Expect::Transfer:
            if (final && head.channel) {
                // The answer releases the end of a download's data to the
                // client (held until now: see DataChannel); a success reply
                // waits until every byte reached the client. Then (and on any
                // other outcome) the channel has done its job: closing it also
                // ends a client's half-open data socket. A channel still
                // Waiting never carried data.
                auto channel = head.channel;
                channel->server_answered();
                if (reply.code < 300 && head.download &&
                    channel->state() != DataChannel::State::Waiting)
                    co_await channel->wait_server_data_delivered();
                if (reply.code >= 400)
                    channel->fail(fmt::format("failed: the server replied {}", reply.code));
                else
                    channel->close();
            }
            reply_to_client(line);
            break;
        case Expect::Rein:
            // RFC 959: REIN resets "all parameters" to what a new connection
            // has. EPSV ALL and a prepared data connection are state the proxy
            // keeps for the server, so they go too, but only once the server
            // has accepted (vsftpd answers 502 and keeps everything).
            if (final && reply.code >= 200 && reply.code < 300) {
                epsv_all_ = false;
                if (channel_) replace_channel(nullptr);
            }
            reply_to_client(line);
            break;
        case Expect::ActivePort:
            if (final && reply.code >= 300 && channel_) replace_channel(nullptr);
            reply_to_client(line);
            break;
        default:
            reply_to_client(line);
            break;
    }
    if (final) pop_pending();
}

// The server's passive reply is complete (held_reply_): open the matching
// data channel and answer the client in the form it asked for.
void Session::complete_passive_reply(Pending& head, int code) {
    auto relay_held = [this] {
        for (const auto& held : held_reply_) reply_to_client(held);
    };
    if (ftp::is_preliminary(code)) {
        relay_held();
        return;
    }
    std::optional<tcp::endpoint> server_data;
    if (code == 227 || code == 229) {
        for (const auto& held : held_reply_) {
            std::string_view text(held);
            if (text.size() > 4) text.remove_prefix(4);
            server_data = server_data_endpoint(code, text);
            if (server_data) break;
        }
        if (!server_data)
            activity_->log_provoked(spdlog::level::warn, tag_, "unusable {} reply from server: {}",
                                    code, held_reply_.back());
    }
    if (!server_data) {
        if (head.kind == Expect::PortViaPassive)
            reply_to_client("425 Cannot open data connection: the server refused passive mode (" +
                            held_reply_.back() + ").");
        else if (code == 227 || code == 229)
            reply_to_client(
                "425 Cannot open data connection: unusable passive reply from the "
                "server.");
        else
            relay_held();
        return;
    }
    const tcp::endpoint server_source{server_local_.address(), 0};
    if (head.kind == Expect::PortViaPassive) {
        replace_channel(DataChannel::create(io_, tag_, activity_,
                                            DataEnd::connect(head.client_data, active_source()),
                                            DataEnd::connect(*server_data, server_source),
                                            settings_.data_timeout, settings_.relay),
                        true);
        reply_to_client("200 " + head.text + " command successful.");
        return;
    }
    error_code error;
    auto listener = listen_on(io_, client_listen_address(), settings_.passive_ports, error);
    if (error) {
        spdlog::error("{} cannot listen for the client's data connection: {}", tag_,
                      error.message());
        reply_to_client("425 Cannot open data connection: " + error.message() + ".");
        return;
    }
    auto channel = DataChannel::create(
        io_, tag_, activity_, DataEnd::accept(std::move(listener), client_peer_.address()),
        DataEnd::connect(*server_data, server_source), settings_.data_timeout, settings_.relay);
    auto port = channel->client_listen_port();
    if (!expect_client_connection(port)) {
        channel->close();
        reply_to_client("425 Cannot open data connection: the firewall refused the rule.");
        return;
    }
    replace_channel(channel, true);
    if (head.kind == Expect::ClientPasv)
        reply_to_client(ftp::format_227_reply({announced_address(), port}));
    else
        reply_to_client(ftp::format_229_reply(port));
}

// Where the server's passive listener is. The address inside a 227 reply is
// not trusted (a hostile or misconfigured server could point us anywhere):
// the server's control address is used, with the port from the reply.
std::optional<tcp::endpoint> Session::server_data_endpoint(int code, std::string_view text) {
    const auto server_address = canonical(server_endpoint_.address());
    if (code == 229) {
        auto port = ftp::parse_229_text(text);
        if (!port) return std::nullopt;
        return tcp::endpoint{server_address, *port};
    }
    auto announced = ftp::parse_227_text(text);
    if (!announced) return std::nullopt;
    if (canonical(announced->address()) != server_address)
        activity_->log_provoked(
            spdlog::level::warn, tag_,
            "server announced data address {} in 227; using its control address {}",
            announced->address().to_string(), server_address.to_string());
    return tcp::endpoint{server_address, announced->port()};
}

}  // namespace proxy
