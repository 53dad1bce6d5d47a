#include "proxy/data_channel.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/net.hpp"
#include "proxy/splice_pipe.hpp"

namespace proxy {
namespace {

// Per direction, allocated only while a transfer runs. 64 KiB keeps a
// loopback transfer at memory speed without holding much per session.
constexpr std::size_t kRelayBufferSize = 64 * 1024;

// A splice relay that never has to wait yields to the worker's other
// coroutines after this many bytes.
constexpr std::size_t kSpliceYieldBytes = 4 * 1024 * 1024;

// fs.pipe-user-pages-soft reached: the kernel gives further pipes of this
// user its minimum size (two pages), and refuses to grow them. Said once per
// worker at warning level (a capacity problem the operator can fix), then
// at debug level.
void warn_small_pipe(std::size_t capacity) {
    static bool warned = false;
    auto level = warned ? spdlog::level::trace : spdlog::level::warn;
    warned = true;
    spdlog::log(level,
                "relay pipe has {} bytes instead of the size asked: the user's pipe budget "
                "(fs.pipe-user-pages-soft) is used up; relaying with {}; raise the sysctl or "
                "lower --relay-pipe-size",
                capacity, capacity < kRelayBufferSize ? "read/write" : "the smaller pipe");
}

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
                                                 std::shared_ptr<SessionActivity> activity,
                                                 DataEnd client, DataEnd server,
                                                 std::chrono::seconds setup_timeout,
                                                 RelayConfig relay) {
    return std::make_shared<DataChannel>(io, std::move(log_prefix), std::move(activity),
                                         std::move(client), std::move(server), setup_timeout,
                                         relay);
}

DataChannel::DataChannel(asio::io_context& io, std::string log_prefix,
                         std::shared_ptr<SessionActivity> activity, DataEnd client, DataEnd server,
                         std::chrono::seconds setup_timeout, RelayConfig relay)
    : io_(io),
      log_prefix_(std::move(log_prefix)),
      activity_(std::move(activity)),
      client_end_(std::move(client)),
      server_end_(std::move(server)),
      client_(io),
      server_(io),
      setup_timer_(io, setup_timeout),
      transfer_due_(io, asio::steady_timer::time_point::max()),
      delivered_(io, asio::steady_timer::time_point::max()),
      answered_(io.get_executor()),
      setup_timeout_(setup_timeout),
      relay_(relay) {}

void DataChannel::start() {
    auto self = shared_from_this();
    asio::co_spawn(
        io_, [self]() { return self->run(); }, asio::detached);
    asio::co_spawn(
        io_, [self]() { return self->watch_setup_timeout(); }, asio::detached);
}

void DataChannel::start_transfer(std::string command, bool download) {
    command_ = std::move(command);
    download_ = download;
    transfer_started_ = true;
    transfer_due_.cancel();
}

void DataChannel::server_answered() {
    server_answered_ = true;
    answered_.notify();
}

void DataChannel::fail(std::string_view reason) {
    if (end_reason_.empty() && state_ != State::Waiting) end_reason_ = reason;
    close(reason);
}

std::uint16_t DataChannel::client_listen_port() const {
    error_code ignored;
    return client_end_.listener ? client_end_.listener->local_endpoint(ignored).port() : 0;
}

tcp::endpoint DataChannel::server_listen_endpoint() const {
    error_code ignored;
    return server_end_.listener ? server_end_.listener->local_endpoint(ignored) : tcp::endpoint{};
}

void DataChannel::close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    // Which sides would take a FIN for a complete transfer when it is not
    // one. A download whose server has not answered is incomplete whatever
    // its data connection did (its end reaches the client only after the
    // answer). An upload is complete once the client's end of stream went to
    // the server. A channel that never relayed anything aborts nothing
    // (unused PASV, say).
    const bool download_cut =
        transfer_started_ && download_ && !server_eof_passed_ && !server_answered_;
    const bool upload_cut = transfer_started_ && !download_ && !client_eof_;
    const bool relayed = state_ != State::Waiting;
    const bool reset_client = relayed && (relay_error_ || download_cut);
    const bool reset_server = relayed && (relay_error_ || upload_cut);
    if (end_reason_.empty() && relayed && (download_cut || upload_cut)) end_reason_ = reason;
    error_code ignored;
    if (client_end_.listener) client_end_.listener->close(ignored);
    if (server_end_.listener) server_end_.listener->close(ignored);
    if (reset_client) reset_and_close(client_);
    if (reset_server) reset_and_close(server_);
    client_.close(ignored);
    server_.close(ignored);
    setup_timer_.cancel();
    transfer_due_.cancel();
    answered_.notify();
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
            activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                    "port theft refused: {} data connection from {}, expected {}",
                                    side, to_string(peer), end.allowed_peer.to_string());
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
            activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                    "{} data connection to {} failed: {}", side,
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
        close("data connection failed");
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

// Relays one direction until end of stream, then half-closes the other
// socket so the peer sees the end too. An error aborts both directions.
// splice(2) through a pipe when the kernel can (Linux), else a read/write loop.
awaitable<void> DataChannel::pump(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes) {
    auto self = shared_from_this();
    const bool from_server = &from == &server_;
    const bool spliced = co_await splice_relay(from, to, bytes);
    if (!spliced && !closed_) {
        copied_ = true;
        co_await copy_relay(from, to, bytes);
    }
    // Both loops return only when every byte they took from `from` has been
    // written to `to` (or the channel was aborted): a finished download is
    // delivered before the session may relay its 226.
    if (from_server) mark_server_data_delivered();
    if (--pumps_running_ == 0) finish();
}

awaitable<void> DataChannel::relay_eof(bool from_server, tcp::socket& to) {
    if (from_server && download_) {
        while (!server_answered_ && !closed_) co_await answered_.wait();
        if (closed_) co_return;  // close() reset the client, or closed it after the answer
        server_eof_passed_ = true;
    }
    if (!from_server) client_eof_ = true;
    error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
}

void DataChannel::relay_failed(const char* reason) {
    if (end_reason_.empty()) end_reason_ = reason;
    relay_error_ = true;
    close();
}

void DataChannel::count_delivered(std::uint64_t& bytes, std::size_t n) {
    bytes += n;
    activity_->data_bytes += n;
}

awaitable<void> DataChannel::copy_relay(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes) {
    auto buffer = std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    const bool from_server = &from == &server_;
    for (;;) {
        error_code error;
        std::size_t n = co_await from.async_read_some(asio::buffer(buffer.get(), kRelayBufferSize),
                                                      with_error(error));
        if (error == asio::error::eof) {
            co_await relay_eof(from_server, to);
            break;
        }
        // Woken by close() (operation_aborted): not a reset by the peer.
        if (closed_) break;
        if (error) {
            relay_failed(from_server ? "reset by server" : "reset by client");
            break;
        }
        co_await asio::async_write(to, asio::buffer(buffer.get(), n), with_error(error));
        if (closed_) break;
        if (error) {
            relay_failed(from_server ? "reset by client" : "reset by server");
            break;
        }
        count_delivered(bytes, n);
    }
}

// socket -> pipe -> socket with non-blocking splice(2) calls; Asio only
// waits for readiness. Backpressure: the pipe holds at most its capacity;
// while it holds data the loop waits for `to` to be writable (and reads
// nothing more than fits), and it waits for `from` to be readable only when
// the pipe is empty. The pipe exists only while this direction relays.
awaitable<bool> DataChannel::splice_relay(tcp::socket& from, tcp::socket& to,
                                          std::uint64_t& bytes) {
    if (!SplicePipe::compiled_in() || !relay_.splice) co_return false;
    const bool from_server = &from == &server_;
    const char* const from_reset = from_server ? "reset by server" : "reset by client";
    const char* const to_reset = from_server ? "reset by client" : "reset by server";
    // The pipe is made when `from` first has something (data or EOF): the
    // idle direction of a transfer (client -> server during a RETR) holds no
    // pipe while it waits. A peek, not a wait first: Asio's reactor is
    // edge-triggered, and bytes that arrived before the relay started would
    // raise no new readiness event.
    error_code error;
    for (;;) {
        if (closed_) co_return true;
        char probe;
        ssize_t n = ::recv(from.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) break;
        // End of stream or an error before any byte: no pipe needed. This is
        // the idle direction of nearly every transfer (the client's end of a
        // RETR), and a pipe costs an inode, two files and five system calls.
        if (n == 0) {
            co_await relay_eof(from_server, to);
            co_return true;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            relay_failed(from_reset);
            co_return true;
        }
        co_await from.async_wait(tcp::socket::wait_read, with_error(error));
        if (closed_) co_return true;
        if (error) {
            relay_failed(from_reset);
            co_return true;
        }
    }
    auto pipe = SplicePipe::create(relay_.pipe_size);
    if (!pipe.valid()) {
        int saved = errno;
        spdlog::warn("{} no relay pipe ({}): this direction relays with read/write", log_prefix_,
                     std::strerror(saved));
        co_return false;
    }
    if (pipe.capacity() < relay_.pipe_size) {
        // The user's pipe budget is used up (see warn_small_pipe). A pipe of
        // a page or two would cost two system calls per few KiB: below the
        // read/write loop's buffer size, that loop is the faster relay.
        warn_small_pipe(pipe.capacity());
        if (pipe.capacity() < kRelayBufferSize) co_return false;
    }
    spliced_ = true;
    // splice() into a socket honours the socket file's O_NONBLOCK, not
    // SPLICE_F_NONBLOCK: the sockets must be non-blocking themselves.
    from.native_non_blocking(true, error);
    if (!error) to.native_non_blocking(true, error);
    if (error) co_return closed_;
    bool eof = false;
    bool moved_any = false;
    std::size_t since_yield = 0;
    for (;;) {
        if (closed_) co_return true;
        bool progressed = false;
        if (!eof) {
            auto r = pipe.fill_from(from.native_handle());
            switch (r.kind) {
                case SpliceResult::Moved:
                    progressed = moved_any = true;
                    break;
                case SpliceResult::EndOfStream:
                    eof = progressed = true;
                    break;
                case SpliceResult::WouldBlock:
                    break;
                case SpliceResult::Unsupported:
                    if (!moved_any) {
                        spdlog::warn(
                            "{} splice refused ({}): this direction relays with "
                            "read/write",
                            log_prefix_, std::strerror(r.error));
                        co_return false;
                    }
                    [[fallthrough]];
                case SpliceResult::Failed:
                    relay_failed(from_reset);
                    co_return true;
            }
        }
        if (pipe.pending() > 0) {
            auto r = pipe.drain_to(to.native_handle());
            if (r.kind == SpliceResult::Moved) {
                count_delivered(bytes, r.bytes);
                since_yield += r.bytes;
                progressed = progressed || r.bytes > 0;
            } else if (r.kind != SpliceResult::WouldBlock) {
                relay_failed(to_reset);
                co_return true;
            }
        }
        if (eof && pipe.pending() == 0) {
            co_await relay_eof(from_server, to);
            co_return true;
        }
        if (progressed) {
            // Both sockets keep up: let the other coroutines of this worker
            // run now and then.
            if (since_yield >= kSpliceYieldBytes) {
                since_yield = 0;
                co_await asio::post(io_, use_awaitable);
            }
            continue;
        }
        since_yield = 0;
        // Nothing moved: the pipe is empty and `from` has nothing (wait to
        // read), or the pipe holds data that `to` does not take now (wait to
        // write; what `from` sends meanwhile stays in its socket buffer, so
        // TCP flow control pushes back on the sender).
        const bool waiting_to_write = pipe.pending() > 0;
        if (waiting_to_write)
            co_await to.async_wait(tcp::socket::wait_write, with_error(error));
        else
            co_await from.async_wait(tcp::socket::wait_read, with_error(error));
        if (closed_) co_return true;
        if (error) {
            relay_failed(waiting_to_write ? to_reset : from_reset);
            co_return true;
        }
    }
}

void DataChannel::finish() {
    if (state_ == State::Finished) return;
    state_ = State::Finished;
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - relay_start_);
    // The relay named is what moved this channel's bytes: "splice",
    // "read/write", both (one direction each), or "none" (nothing relayed).
    const char* relay =
        spliced_ ? (copied_ ? "splice+read/write" : "splice") : (copied_ ? "read/write" : "none");
    spdlog::info("{} data {}: {}, {} bytes to client, {} bytes to server, {:.3f} s, relay {}",
                 log_prefix_, end_reason_.empty() ? "completed" : end_reason_,
                 command_.empty() ? "(no command)" : command_, to_client_bytes_, to_server_bytes_,
                 seconds.count(), relay);
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    mark_server_data_delivered();
}

}  // namespace proxy
