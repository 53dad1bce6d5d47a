#include "proxy/data_channel.hpp"

#include <spdlog/spdlog.h>

#include "proxy/net.hpp"

namespace proxy {
namespace {

// Per direction, allocated only while a transfer runs. 64 KiB keeps a
// loopback transfer at memory speed without holding much per session.
constexpr std::size_t kRelayBufferSize = 64 * 1024;

}  // namespace

DataEnd DataEnd::accept(tcp::acceptor listener, asio::ip::address allowed_peer) {
    DataEnd end;
    end.listener.emplace(std::move(listener));
    end.allowed_peer = canonical(allowed_peer);
    return end;
}

DataEnd DataEnd::connect(tcp::endpoint to, std::optional<tcp::endpoint> from) {
    DataEnd end;
    end.connect_to = to;
    end.connect_from = from;
    return end;
}

std::shared_ptr<DataChannel> DataChannel::create(asio::io_context& io, std::string log_prefix,
                                                 DataEnd client, DataEnd server,
                                                 std::chrono::seconds setup_timeout) {
    return std::make_shared<DataChannel>(io, std::move(log_prefix), std::move(client),
                                         std::move(server), setup_timeout);
}

DataChannel::DataChannel(asio::io_context& io, std::string log_prefix, DataEnd client,
                         DataEnd server, std::chrono::seconds setup_timeout)
    : io_(io),
      log_prefix_(std::move(log_prefix)),
      client_end_(std::move(client)),
      server_end_(std::move(server)),
      client_(io),
      server_(io),
      setup_timer_(io, setup_timeout),
      transfer_due_(io, asio::steady_timer::time_point::max()),
      delivered_(io, asio::steady_timer::time_point::max()),
      setup_timeout_(setup_timeout) {}

void DataChannel::start() {
    auto self = shared_from_this();
    asio::co_spawn(
        io_, [self]() { return self->run(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->watch_setup_timeout(); }, asio::detached);
}

void DataChannel::start_transfer(std::string command) {
    command_ = std::move(command);
    transfer_started_ = true;
    transfer_due_.cancel();
}

std::uint16_t DataChannel::client_listen_port() const {
    error_code ignored;
    return client_end_.listener ? client_end_.listener->local_endpoint(ignored).port() : 0;
}

tcp::endpoint DataChannel::server_listen_endpoint() const {
    error_code ignored;
    return server_end_.listener ? server_end_.listener->local_endpoint(ignored) : tcp::endpoint{};
}

void DataChannel::close() {
    if (closed_) return;
    closed_ = true;
    // Closing after every byte with data arrived (e.g. a finished download
    // whose client has not sent its FIN yet) is not an abort.
    const bool unfinished =
        (to_client_bytes_ > 0 && !server_data_delivered_) || (to_server_bytes_ > 0 && !client_eof_);
    if (!end_reason_ && state_ == State::Relaying && unfinished)
        end_reason_ = "aborted by the session";
    error_code ignored;
    if (client_end_.listener) client_end_.listener->close(ignored);
    if (server_end_.listener) server_end_.listener->close(ignored);
    client_.close(ignored);
    server_.close(ignored);
    setup_timer_.cancel();
    transfer_due_.cancel();
    mark_server_data_delivered();
}

void DataChannel::mark_server_data_delivered() {
    server_data_delivered_ = true;
    delivered_.cancel();
}

awaitable<void> DataChannel::wait_server_data_delivered() {
    auto self = shared_from_this();  // the session may drop its pointer meanwhile
    while (!server_data_delivered_) {
        error_code ignored;
        co_await delivered_.async_wait(with_error(ignored));
    }
}

awaitable<void> DataChannel::watch_setup_timeout() {
    auto self = shared_from_this();
    error_code error;
    co_await setup_timer_.async_wait(with_error(error));
    if (error || closed_ || state_ == State::Relaying || state_ == State::Finished) co_return;
    spdlog::info("{} data connection not used within {} s, closed", log_prefix_,
                 setup_timeout_.count());
    close();
}

// Accepts on the end's listener (refusing anyone but the allowed peer) or
// connects, leaving the connected socket in `socket`.
awaitable<bool> DataChannel::establish(DataEnd& end, tcp::socket& socket, const char* side) {
    error_code error;
    if (end.listener) {
        for (;;) {
            tcp::socket candidate(io_);
            co_await end.listener->async_accept(candidate, with_error(error));
            if (error) co_return false;
            auto peer = canonical(candidate.remote_endpoint(error));
            if (error) continue;
            if (peer.address() == end.allowed_peer) {
                socket = std::move(candidate);
                end.listener->close(error);  // one connection per negotiation
                if (on_accepted_) std::exchange(on_accepted_, nullptr)();
                co_return true;
            }
            spdlog::warn("{} port theft refused: {} data connection from {}, expected {}",
                         log_prefix_, side, to_string(peer), end.allowed_peer.to_string());
        }
    }
    socket.open(end.connect_to.protocol(), error);
    if (!error && end.connect_from) {
        socket.set_option(asio::socket_base::reuse_address(true), error);
        socket.bind(*end.connect_from, error);
    }
    if (error) {
        spdlog::warn("{} cannot prepare {} data connection to {}: {}", log_prefix_, side,
                     to_string(end.connect_to), error.message());
        co_return false;
    }
    co_await socket.async_connect(end.connect_to, with_error(error));
    if (error) {
        if (!closed_)
            spdlog::warn("{} {} data connection to {} failed: {}", log_prefix_, side,
                         to_string(end.connect_to), error.message());
        co_return false;
    }
    co_return true;
}

awaitable<void> DataChannel::run() {
    auto self = shared_from_this();
    bool ok = false;
    if (client_end_.accepts()) {
        ok = co_await establish(client_end_, client_, "client");
        state_ = State::Connecting;
        ok = ok && co_await establish(server_end_, server_, "server");
    } else if (server_end_.accepts()) {
        ok = co_await establish(server_end_, server_, "server");
        state_ = State::Connecting;
        ok = ok && co_await establish(client_end_, client_, "client");
    } else {
        while (!transfer_started_ && !closed_) {
            error_code ignored;
            co_await transfer_due_.async_wait(with_error(ignored));
        }
        state_ = State::Connecting;
        ok = !closed_ && co_await establish(server_end_, server_, "server");
        ok = ok && co_await establish(client_end_, client_, "client");
    }
    if (!ok || closed_) {
        close();
        state_ = State::Finished;
        co_return;
    }
    setup_timer_.cancel();
    state_ = State::Relaying;
    relay_start_ = std::chrono::steady_clock::now();
    error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    server_.set_option(tcp::no_delay(true), ignored);
    pumps_running_ = 2;
    asio::co_spawn(
        io_, [self]() { return self->pump(self->server_, self->client_, self->to_client_bytes_); },
        asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->pump(self->client_, self->server_, self->to_server_bytes_); },
        asio::detached);
}

// Copies one direction until end of stream, then half-closes the other
// socket so the peer sees the end too. An error aborts both directions.
awaitable<void> DataChannel::pump(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes) {
    auto self = shared_from_this();
    auto buffer = std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    const bool from_server = &from == &server_;
    for (;;) {
        error_code error;
        std::size_t n = co_await from.async_read_some(asio::buffer(buffer.get(), kRelayBufferSize),
                                                      with_error(error));
        if (error == asio::error::eof) {
            if (!from_server) client_eof_ = true;
            to.shutdown(tcp::socket::shutdown_send, error);
            break;
        }
        if (error) {
            if (!end_reason_) end_reason_ = from_server ? "reset by server" : "reset by client";
            close();
            break;
        }
        co_await asio::async_write(to, asio::buffer(buffer.get(), n), with_error(error));
        if (error) {
            if (!end_reason_) end_reason_ = from_server ? "reset by client" : "reset by server";
            close();
            break;
        }
        bytes += n;
    }
    if (from_server) mark_server_data_delivered();
    if (--pumps_running_ == 0) finish();
}

void DataChannel::finish() {
    if (state_ == State::Finished) return;
    state_ = State::Finished;
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - relay_start_);
    spdlog::info("{} data {}: {}, {} bytes to client, {} bytes to server, {:.3f} s", log_prefix_,
                 end_reason_ ? end_reason_ : "completed",
                 command_.empty() ? "(no command)" : command_, to_client_bytes_, to_server_bytes_,
                 seconds.count());
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    mark_server_data_delivered();
}

}  // namespace proxy
