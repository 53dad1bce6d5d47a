// Session life cycle: connecting to the server, the three coroutines, and
// the end. Command handling is in session_commands.cpp, reply handling in
// session_replies.cpp.
#include "proxy/session.hpp"

#include <spdlog/spdlog.h>

#include "ftp/limits.hpp"
#include "proxy/net.hpp"

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
      writer_(client_),
      client_in_(ftp::kMaxCommandLine),
      server_in_(ftp::kMaxReplyLine),
      idle_timer_(io) {
    error_code ignored;
    // ftplib and others send ABOR as urgent data; without this the kernel
    // takes its last byte (the LF) out of the stream and the line never ends.
    client_.set_option(asio::socket_base::out_of_band_inline(true), ignored);
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

void Session::stop(std::string_view reply) {
    if (ended_) return;
    writer_.post(std::string(reply) + "\r\n");
    end("proxy shutting down");
}

awaitable<void> Session::run() {
    auto self = shared_from_this();
    spdlog::info("{} session from {} to {}", tag_, to_string(client_peer_),
                 to_string(client_local_));
    if (!co_await connect_to_server()) co_return;
    pending_.emplace_back(Expect::Greeting);
    asio::co_spawn(
        io_, [self]() { return self->server_loop(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->idle_watch(); }, asio::detached);
    co_await client_loop();
}

awaitable<bool> Session::connect_to_server() {
    error_code error;
    server_.open(settings_.server.protocol(), error);
    if (!error && settings_.source_address) server_.bind({*settings_.source_address, 0}, error);
    if (!error) {
        // The kernel's own connect timeout is minutes; a backend that drops
        // SYNs must not hold a client that long.
        asio::steady_timer deadline(io_, kServerConnectTimeout);
        deadline.async_wait([this](error_code e) {
            if (!e) server_.close(e);
        });
        co_await server_.async_connect(settings_.server, with_error(error));
        if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor)
            error = asio::error::timed_out;
        deadline.cancel();
    }
    if (error) {
        spdlog::warn("{} cannot reach FTP server {}: {}", tag_, to_string(settings_.server),
                     error.message());
        writer_.post("421 Service not available: cannot reach FTP server " +
                     to_string(settings_.server) + ": " + error.message() + ".\r\n");
        end("server unreachable");
        co_return false;
    }
    server_local_ = canonical(server_.local_endpoint(error));
    spdlog::debug("{} connected to server {} from {}", tag_, to_string(settings_.server),
                  to_string(server_local_));
    co_return true;
}

awaitable<void> Session::client_loop() {
    auto self = shared_from_this();
    while (!ended_) {
        error_code error;
        auto space = client_in_.prepare();
        std::size_t n = co_await client_.async_read_some(asio::buffer(space.data(), space.size()),
                                                         with_error(error));
        if (error) {
            end(error == asio::error::eof ? "client closed" : "client error: " + error.message());
            break;
        }
        client_in_.commit(n);
        touch();
        while (!ended_) {
            auto line = client_in_.next();
            if (!line) break;
            if (line->overlong) {
                spdlog::warn("{} command line over {} bytes refused", tag_, ftp::kMaxCommandLine);
                reply_local("500 Command line too long (limit " +
                            std::to_string(ftp::kMaxCommandLine) + " bytes).");
                continue;
            }
            co_await handle_client_line(line->text);
        }
    }
}

awaitable<void> Session::server_loop() {
    auto self = shared_from_this();
    while (!ended_) {
        error_code error;
        auto space = server_in_.prepare();
        std::size_t n = co_await server_.async_read_some(asio::buffer(space.data(), space.size()),
                                                         with_error(error));
        if (error) {
            end(error == asio::error::eof ? "server closed" : "server error: " + error.message());
            break;
        }
        server_in_.commit(n);
        touch();
        while (!ended_) {
            auto line = server_in_.next();
            if (!line) break;
            if (line->overlong) {
                spdlog::warn("{} server reply line over {} bytes", tag_, ftp::kMaxReplyLine);
                writer_.post("421 Service not available: the server sent an invalid reply.\r\n");
                end("server protocol error");
                break;
            }
            auto parsed = replies_.feed(line->text);
            if (auto* problem = std::get_if<ftp::ReplyError>(&parsed)) {
                spdlog::warn("{} server sent a malformed reply ({}): closing", tag_,
                             ftp::describe(*problem));
                writer_.post("421 Service not available: the server sent an invalid reply.\r\n");
                end("server protocol error");
                break;
            }
            co_await handle_reply_line(std::get<ftp::ReplyLine>(parsed), line->text);
            // A client that does not read must not make us buffer its replies.
            co_await writer_.wait_backlog_below(kMaxClientBacklog);
        }
    }
}

awaitable<void> Session::idle_watch() {
    auto self = shared_from_this();
    while (!ended_) {
        idle_timer_.expires_at(last_activity_ + settings_.idle_timeout);
        error_code error;
        co_await idle_timer_.async_wait(with_error(error));
        if (ended_) break;
        if (data_active()) {
            touch();  // a running transfer is activity
            continue;
        }
        if (std::chrono::steady_clock::now() < last_activity_ + settings_.idle_timeout) continue;
        spdlog::info("{} idle for {} s, closing", tag_, settings_.idle_timeout.count());
        writer_.post("421 Idle timeout (" + std::to_string(settings_.idle_timeout.count()) +
                     " seconds), closing control connection.\r\n");
        end("idle timeout");
    }
}

bool Session::data_active() const {
    auto running = [](const std::shared_ptr<DataChannel>& channel) {
        return channel && channel->state() == DataChannel::State::Relaying;
    };
    if (running(channel_)) return true;
    for (const auto& pending : pending_)
        if (running(pending.channel)) return true;
    return false;
}

void Session::replace_channel(std::shared_ptr<DataChannel> channel, bool adopt_pipelined) {
    if (channel_) channel_->close();
    channel_ = nullptr;
    if (!channel) return;
    // Every channel is remembered so that the end of the session closes it,
    // wherever it is referenced from by then.
    std::erase_if(channels_, [](const auto& weak) { return weak.expired(); });
    channels_.push_back(channel);
    channel->start();
    // "PASV\r\nLIST\r\n" in one segment: the LIST went to the server before
    // the 227 that created this channel came back, so it has no channel yet.
    // Replies come in order, so any such transfer behind the head is ours.
    if (adopt_pipelined) {
        for (auto& pending : pending_) {
            if (pending.kind == Expect::Transfer && !pending.channel) {
                pending.channel = channel;
                channel->start_transfer(pending.text);
                return;
            }
        }
    }
    channel_ = std::move(channel);
}

void Session::end(std::string_view why) {
    if (ended_) return;
    ended_ = true;
    spdlog::info("{} session ended: {}", tag_, why);
    error_code ignored;
    server_.shutdown(tcp::socket::shutdown_both, ignored);
    server_.close(ignored);
    client_.shutdown(tcp::socket::shutdown_receive, ignored);
    for (auto& weak : channels_)
        if (auto channel = weak.lock()) channel->close();
    idle_timer_.cancel();
    writer_.close_after_flush();
    if (on_end_) std::exchange(on_end_, nullptr)();
}

}  // namespace proxy
