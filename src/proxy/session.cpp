// Session life cycle: connecting to the server, the three coroutines, and
// the end. What the dialogue decides is carried out in session_actions.cpp,
// data channels are made in session_data.cpp.
#include "proxy/session.hpp"

#include <spdlog/spdlog.h>

#include "ftp/limits.hpp"
#include "proxy/net.hpp"
#include "proxy/original_destination.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {

Session::Session(asio::io_context& io, const Settings& settings, tcp::socket client,
                 std::uint64_t id, std::function<void()> on_end)
    : io_(io),
      settings_(settings),
      client_(std::move(client)),
      server_(io),
      id_(id),
      tag_("#" + std::to_string(id)),
      on_end_(std::move(on_end)),
      activity_(std::make_shared<SessionActivity>()),
      writer_(client_),
      client_in_(ftp::kMaxCommandLine),
      server_in_(ftp::kMaxReplyLine, ftp::kInitialReplyBuffer),
      idle_timer_(io),
      server_deadline_(io),
      replies_popped_(io.get_executor()) {
    error_code ignored;
    // ftplib and others send ABOR as urgent data; without this the kernel
    // takes its last byte (the LF) out of the stream and the line never ends.
    client_.set_option(asio::socket_base::out_of_band_inline(true), ignored);
    // Replies are small and often come in pairs (150 then 226): without
    // NODELAY the second waits ~40 ms for the client's delayed ACK.
    client_.set_option(tcp::no_delay(true), ignored);
    client_peer_ = canonical(client_.remote_endpoint(ignored));
    client_local_ = canonical(client_.local_endpoint(ignored));
    touch();
}

void Session::start() {
    auto self = shared_from_this();
    asio::co_spawn(
        io_, [self]() { return self->writer_.run(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->run(); }, asio::detached);
}

void Session::stop(std::string_view reply, std::string_view why) {
    if (ended_) return;
    writer_.post(std::string(reply) + "\r\n");
    end(std::string(why));
}

awaitable<void> Session::run() {
    auto self = shared_from_this();
    spdlog::info("{} session from {} to {}", tag_, format_endpoint(client_peer_),
                 format_endpoint(client_local_));
    // Implicit FTPS: TLS from the first byte, before anything else is said
    // (even a 421 would have to be encrypted).
    // (Nested ifs: g++ 12 mishandles co_await inside && and ?:.)
    if (settings_.implicit_tls) {
        const bool secured = co_await client_control_handshake("sent ");
        if (!secured) {
            metrics().refused(SessionRefusal::Policy);  // clear text, or no handshake in time
            co_return;
        }
    }
    if (!choose_server()) co_return;
    if (!co_await connect_to_server()) co_return;
    ftp::DialogueConfig config;
    config.anonymous_only = settings_.anonymous_only;
    config.passive_to_server = settings_.passive_to_server;
    config.verbose = settings_.verbose;
    config.client_ipv4 = client_local_.address().is_v4();
    config.server_ipv4 = server_local_.address().is_v4();
    config.client = client_peer_.address();
    config.server = canonical(server_endpoint_.address());
    config.client_tls = settings_.client_tls;
    config.server_tls = settings_.server_tls;
    config.implicit_tls = settings_.implicit_tls;
    dialogue_.emplace(std::move(config));
    asio::co_spawn(
        io_, [self]() { return self->server_loop(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->idle_watch(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->greeting_watch(); }, asio::detached);
    co_await client_loop();
}

// Reverse mode: the fixed server. Forward mode: where the client was going
// before the firewall diverted it, unless that is the proxy itself.
bool Session::choose_server() {
    if (!settings_.forward) {
        server_endpoint_ = settings_.server;
        return true;
    }
    auto destination = original_destination(client_, !settings_.transparent);
    if (!destination) {
        spdlog::warn("{} not diverted by the firewall (no original destination): refused", tag_);
        writer_.post(
            "421 Service not available: this proxy only serves connections diverted to it by "
            "the firewall.\r\n");
        metrics().refused(SessionRefusal::NotDiverted);
        end("not diverted");
        return false;
    }
    if (destination->port() == settings_.listen.port() &&
        (destination->address() == client_local_.address() ||
         destination->address() == canonical(settings_.listen.address()))) {
        spdlog::warn("{} original destination {} is the proxy itself: refused", tag_,
                     format_endpoint(*destination));
        writer_.post("421 Service not available: refusing to proxy to the proxy itself.\r\n");
        metrics().refused(SessionRefusal::Policy);
        end("loop");
        return false;
    }
    server_endpoint_ = *destination;
    spdlog::info("{} original destination {}", tag_, format_endpoint(server_endpoint_));
    return true;
}

awaitable<bool> Session::connect_to_server() {
    error_code error;
    server_.open(server_endpoint_.protocol(), error);
    if (!error && settings_.source_address) server_.bind({*settings_.source_address, 0}, error);
    if (!error) {
        // The kernel's own connect timeout is minutes; a backend that drops
        // SYNs must not hold a client that long.
        server_deadline_.expires_after(settings_.server_timeout);
        server_deadline_.async_wait([this](error_code e) {
            if (!e) server_.close(e);
        });
        const auto connecting = std::chrono::steady_clock::now();
        co_await server_.async_connect(server_endpoint_, with_error(error));
        if (!error)
            metrics().server_connect_seconds.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - connecting)
                    .count());
        if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor)
            error = asio::error::timed_out;
        server_deadline_.cancel();
    }
    if (error) {
        spdlog::warn("{} cannot reach FTP server {}: {}", tag_, format_endpoint(server_endpoint_),
                     error.message());
        writer_.post("421 Service not available: cannot reach FTP server " +
                     format_endpoint(server_endpoint_) + ": " + error.message() + ".\r\n");
        metrics().refused(SessionRefusal::BackendDown);
        end("server unreachable");
        co_return false;
    }
    server_.set_option(tcp::no_delay(true), error);  // see the constructor
    server_.non_blocking(true, error);               // send_to_server() must not block
    server_local_ = canonical(server_.local_endpoint(error));
    spdlog::trace("{} connected to server {} from {}", tag_, format_endpoint(server_endpoint_),
                  format_endpoint(server_local_));
    co_return true;
}

// A client that pipelines commands without reading the replies (or floods a
// command the proxy refuses itself) is not read any further while
// kMaxPendingReplies replies are due or kMaxClientBacklog bytes wait to be
// sent to it: its commands then stay in the kernel's buffers and TCP flow
// control stops it. The server loop stops at the same backlog, so no queue
// of the session grows with what a peer sends.
// The TLS setup toward the server holds the client's commands the same way.
bool Session::client_room() const {
    return dialogue_->replies_due() < kMaxPendingReplies &&
           writer_.backlog() <= kMaxClientBacklog && !dialogue_->holding_client();
}

awaitable<void> Session::wait_for_client_room() {
    while (!ended_ && !client_room()) {
        if (writer_.backlog() > kMaxClientBacklog)
            co_await writer_.wait_backlog_below(kMaxClientBacklog);
        else
            co_await replies_popped_.wait();
    }
}

awaitable<void> Session::client_loop() {
    auto self = shared_from_this();
    while (!ended_) {
        co_await wait_for_client_room();
        if (ended_) break;
        error_code error;
        auto space = client_in_.prepare();
        std::size_t n = co_await read_client(space, error);
        if (error == asio::error::eof) {
            // With replies still due the session goes on until they are
            // relayed (a script's printf ... | nc -N), or until -t.
            dialogue_->client_closed(client_actions_);
            co_await carry_out(client_actions_);
            break;
        }
        if (error) {
            abort("client error: " + error.message());
            break;
        }
        client_in_.commit(n);
        touch();
        while (!ended_) {
            co_await wait_for_client_room();
            if (ended_) break;
            auto line = client_in_.next();
            if (!line) break;
            if (line->overlong)
                dialogue_->client_overlong(client_actions_);
            else
                dialogue_->client_line(line->text, client_actions_);
            co_await carry_out(client_actions_);
        }
    }
}

awaitable<void> Session::server_loop() {
    auto self = shared_from_this();
    while (!ended_) {
        error_code error;
        auto space = server_in_.prepare();
        std::size_t n = co_await read_server(space, error);
        if (error == asio::error::eof) {
            end("server closed");
            break;
        }
        if (error) {
            // Said to the client, not just dropped: a reset is not a QUIT.
            writer_.post("421 Service not available: the connection to the FTP server failed (" +
                         error.message() + ").\r\n");
            abort("server error: " + error.message());
            break;
        }
        server_in_.commit(n);
        touch();
        while (!ended_) {
            auto line = server_in_.next();
            if (!line) break;
            // A reply relayed frees room for the client's next command, and
            // the end of the TLS setup lets its commands in: the client
            // loop waits for either (wait_for_client_room).
            const std::size_t due_before = dialogue_->replies_due();
            if (line->overlong)
                dialogue_->server_overlong(server_actions_);
            else
                dialogue_->server_line(line->text, server_actions_);
            co_await carry_out(server_actions_);
            if (dialogue_->replies_due() < due_before) replies_popped_.notify();
            // A client that does not read must not make us buffer its replies.
            co_await writer_.wait_backlog_below(kMaxClientBacklog);
        }
    }
}

// -t: idle means that no byte moved on any of the session's connections,
// control or data. A data connection that is open but silent (a STOR whose
// client sends nothing, a RETR whose server never sends) is idle too.
awaitable<void> Session::idle_watch() {
    auto self = shared_from_this();
    while (!ended_) {
        idle_timer_.expires_at(last_activity_ + settings_.idle_timeout);
        error_code error;
        co_await idle_timer_.async_wait(with_error(error));
        if (ended_) break;
        // The data channels count their bytes instead of touching the clock
        // for each splice; moved bytes since the last look are activity.
        for (auto& [id, channel] : channels_) channel->count_activity();
        if (activity_->data_bytes != data_bytes_seen_) {
            data_bytes_seen_ = activity_->data_bytes;
            touch();
            continue;
        }
        if (std::chrono::steady_clock::now() < last_activity_ + settings_.idle_timeout) continue;
        spdlog::info("{} idle for {} s, closing", tag_, settings_.idle_timeout.count());
        writer_.post("421 Idle timeout (" + std::to_string(settings_.idle_timeout.count()) +
                     " seconds), closing control connection.\r\n");
        end("idle timeout");
    }
}

// A server that accepts the connection and never greets must not hold the
// client for the whole idle timeout.
awaitable<void> Session::greeting_watch() {
    auto self = shared_from_this();
    server_deadline_.expires_after(settings_.server_timeout);
    error_code error;
    co_await server_deadline_.async_wait(with_error(error));
    if (error || ended_) co_return;  // cancelled: the greeting came
    spdlog::warn("{} FTP server {} sent no greeting within {} s", tag_,
                 format_endpoint(server_endpoint_), settings_.server_timeout.count());
    writer_.post("421 Service not available: FTP server " + format_endpoint(server_endpoint_) +
                 " sent no greeting within " + std::to_string(settings_.server_timeout.count()) +
                 " seconds.\r\n");
    metrics().refused(SessionRefusal::BackendDown);
    end("no greeting from the server");
}

void Session::abort(std::string_view why) {
    if (ended_) return;
    // The client's control connection broke: the server learns it the same
    // way (its own reply to the client is lost anyway).
    reset_and_close(server_);
    end(why);
}

void Session::end(std::string_view why) {
    if (ended_) return;
    ended_ = true;
    if (auto left_out = activity_->unreported())
        spdlog::info("{} session ended: {} ({} line{} about refused input not logged)", tag_, why,
                     left_out, left_out == 1 ? "" : "s");
    else
        spdlog::info("{} session ended: {}", tag_, why);
    error_code ignored;
    server_.shutdown(tcp::socket::shutdown_both, ignored);
    server_.close(ignored);
    client_.shutdown(tcp::socket::shutdown_receive, ignored);
    for (auto& [id, channel] : channels_) channel->close();
    channels_.clear();
    if (settings_.firewall) settings_.firewall->clear_session(id_);
    idle_timer_.cancel();
    server_deadline_.cancel();
    replies_popped_.notify();
    writer_.close_after_flush(kFinalFlushTimeout);
    if (on_end_) std::exchange(on_end_, nullptr)();
}

}  // namespace proxy
