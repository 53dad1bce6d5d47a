// The relay of a data channel: each direction from one socket to the other,
// with splice(2) through a pipe where the kernel can (Linux), else a
// read/write loop; the end of stream passed on, or a reset for a failure.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "proxy/data_channel.hpp"
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

// Relays one direction until end of stream, then half-closes the other
// socket so the peer sees the end too. An error aborts both directions.
// splice(2) through a pipe when the kernel can (Linux), else a read/write loop.
awaitable<void> DataChannel::pump(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes) {
    auto self = shared_from_this();
    const bool from_server = &from == &server_;
    if (client_tls_ || server_tls_) {
        // splice(2) moves bytes the kernel cannot encrypt: a TLS leg is
        // relayed through user space.
        copied_ = true;
        co_await copy_tls_relay(from_server, bytes);
    } else {
        const bool spliced = co_await splice_relay(from, to, bytes);
        if (!spliced && !closed_) {
            copied_ = true;
            co_await copy_relay(from, to, from_server, bytes);
        }
    }
    // Both loops return only when every byte they took from `from` has been
    // written to `to` (or the channel was aborted): a finished download is
    // delivered before the session may relay its 226.
    if (from_server) mark_server_data_delivered();
    if (--pumps_running_ == 0) finish();
}

// The four pairings of clear and TLS legs, each one copy_relay().
awaitable<void> DataChannel::copy_tls_relay(bool from_server, std::uint64_t& bytes) {
    if (from_server) {
        if (server_tls_ && client_tls_)
            co_await copy_relay(*server_tls_, *client_tls_, true, bytes);
        else if (server_tls_)
            co_await copy_relay(*server_tls_, client_, true, bytes);
        else
            co_await copy_relay(server_, *client_tls_, true, bytes);
    } else {
        if (server_tls_ && client_tls_)
            co_await copy_relay(*client_tls_, *server_tls_, false, bytes);
        else if (server_tls_)
            co_await copy_relay(client_, *server_tls_, false, bytes);
        else
            co_await copy_relay(*client_tls_, server_, false, bytes);
    }
}

awaitable<void> DataChannel::relay_eof(bool from_server) {
    if (from_server && download_) {
        // The server has sent all it will: close our side toward it too, as
        // the client would on seeing the end. Some servers (vsftpd) send
        // their 226 only once the data connection is closed both ways, and
        // the end reaches the client only after that 226: waiting for the
        // client's close here made each side wait for the other.
        if (server_tls_) co_await tls_shutdown(*server_tls_);  // answers its close_notify
        error_code ignored;
        server_.shutdown(tcp::socket::shutdown_send, ignored);
        while (!server_answered_ && !closed_) co_await answered_.wait();
        if (closed_) co_return;  // close() reset the client, or closed it after the answer
        server_eof_passed_ = true;
    }
    if (!from_server) client_eof_ = true;
    // A TLS leg ends with close_notify: without it the peer could not tell
    // the end of the data from a cut (vsftpd's strict_ssl_read_eof refuses
    // an upload that ends without one). The other side's own close_notify
    // has been read already.
    if (from_server && client_tls_) co_await tls_shutdown(*client_tls_);
    // Not in the middle of a download, though: the server would stop
    // sending (TLS 1.2 answers close_notify with its own, and the end).
    if (!from_server && server_tls_ && !download_) co_await tls_shutdown(*server_tls_);
    error_code ignored;
    (from_server ? client_ : server_).shutdown(tcp::socket::shutdown_send, ignored);
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

template <typename From, typename To>
awaitable<void> DataChannel::copy_relay(From& from, To& to, bool from_server,
                                        std::uint64_t& bytes) {
    auto buffer = std::make_unique_for_overwrite<char[]>(kRelayBufferSize);
    for (;;) {
        error_code error;
        std::size_t n = co_await from.async_read_some(asio::buffer(buffer.get(), kRelayBufferSize),
                                                      with_error(error));
        // A TLS client that closes without close_notify: harmless when it
        // only had to read (a download), a possible cut of an upload
        // otherwise (vsftpd's strict_ssl_read_eof), which the server must
        // not take for a complete file.
        if (error == ssl::error::stream_truncated && !from_server && download_)
            error = asio::error::eof;
        // A server leg without close_notify: the server's reply to the
        // transfer, not its TLS, says whether the data is complete (the end
        // reaches the client only after that reply).
        if (error == ssl::error::stream_truncated && from_server) error = asio::error::eof;
        if (error == asio::error::eof) {
            co_await relay_eof(from_server);
            break;
        }
        if (error == ssl::error::stream_truncated && !closed_) {
            relay_failed("client TLS leg ended without close_notify");
            break;
        }
        // Woken by close() (operation_aborted): not a reset by the peer.
        if (closed_) break;
        if (error) {
            // A TLS leg fails for more reasons than a reset: said once.
            if (error.category() != asio::error::get_system_category())
                activity_->log_provoked(spdlog::level::info, log_prefix_, "{} data connection: {}",
                                        from_server ? "server" : "client", error.message());
            relay_failed(from_server ? "reset by server" : "reset by client");
            break;
        }
        co_await asio::async_write(to, asio::buffer(buffer.get(), n), with_error(error));
        if (closed_) break;
        if (error) {
            if (error.category() != asio::error::get_system_category())
                activity_->log_provoked(spdlog::level::info, log_prefix_, "{} data connection: {}",
                                        from_server ? "client" : "server", error.message());
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
    if (!co_await first_bytes(from)) co_return true;
    auto pipe = relay_pipe();
    if (!pipe) co_return false;
    spliced_ = true;
    // splice() into a socket honours the socket file's O_NONBLOCK, not
    // SPLICE_F_NONBLOCK: the sockets must be non-blocking themselves.
    error_code error;
    from.native_non_blocking(true, error);
    if (!error) to.native_non_blocking(true, error);
    if (error) co_return closed_;
    co_return co_await splice_loop(*pipe, from, to, bytes);
}

// The pipe is made when `from` first has something (data or EOF): the idle
// direction of a transfer (client -> server during a RETR) holds no pipe
// while it waits. A peek, not a wait first: Asio's reactor is
// edge-triggered, and bytes that arrived before the relay started would
// raise no new readiness event. False: this direction is over already (end
// of stream passed on, a failure, or the channel closed).
awaitable<bool> DataChannel::first_bytes(tcp::socket& from) {
    const bool from_server = &from == &server_;
    error_code error;
    for (;;) {
        if (closed_) co_return false;
        char probe;
        ssize_t n = ::recv(from.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) co_return true;
        // End of stream or an error before any byte: no pipe needed. This is
        // the idle direction of nearly every transfer (the client's end of a
        // RETR), and a pipe costs an inode, two files and five system calls.
        if (n == 0) {
            co_await relay_eof(from_server);
            co_return false;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            relay_failed(from_server ? "reset by server" : "reset by client");
            co_return false;
        }
        co_await from.async_wait(tcp::socket::wait_read, with_error(error));
        if (closed_) co_return false;
        if (error) {
            relay_failed(from_server ? "reset by server" : "reset by client");
            co_return false;
        }
    }
}

// A pipe for the splice relay, or none: read/write is then the better relay.
std::optional<SplicePipe> DataChannel::relay_pipe() {
    auto pipe = SplicePipe::create(relay_.pipe_size);
    if (!pipe.valid()) {
        int saved = errno;
        spdlog::warn("{} no relay pipe ({}): this direction relays with read/write", log_prefix_,
                     std::strerror(saved));
        return std::nullopt;
    }
    if (pipe.capacity() < relay_.pipe_size) {
        // The user's pipe budget is used up (see warn_small_pipe). A pipe of
        // a page or two would cost two system calls per few KiB: below the
        // read/write loop's buffer size, that loop is the faster relay.
        warn_small_pipe(pipe.capacity());
        if (pipe.capacity() < kRelayBufferSize) return std::nullopt;
    }
    return pipe;
}

// Returns false only when splice(2) is refused before any byte moved (the
// caller then relays with read/write).
awaitable<bool> DataChannel::splice_loop(SplicePipe& pipe, tcp::socket& from, tcp::socket& to,
                                         std::uint64_t& bytes) {
    const bool from_server = &from == &server_;
    const char* const from_reset = from_server ? "reset by server" : "reset by client";
    const char* const to_reset = from_server ? "reset by client" : "reset by server";
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
            co_await relay_eof(from_server);
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
        if (!co_await wait_for_room_or_data(pipe, from, to)) co_return true;
    }
}

// Nothing moved: the pipe is empty and `from` has nothing (wait to read), or
// the pipe holds data that `to` does not take now (wait to write; what
// `from` sends meanwhile stays in its socket buffer, so TCP flow control
// pushes back on the sender). False: the channel closed or a side failed.
awaitable<bool> DataChannel::wait_for_room_or_data(SplicePipe& pipe, tcp::socket& from,
                                                   tcp::socket& to) {
    const bool from_server = &from == &server_;
    const bool waiting_to_write = pipe.pending() > 0;
    error_code error;
    if (waiting_to_write)
        co_await to.async_wait(tcp::socket::wait_write, with_error(error));
    else
        co_await from.async_wait(tcp::socket::wait_read, with_error(error));
    if (closed_) co_return false;
    if (error) {
        relay_failed(waiting_to_write == from_server ? "reset by client" : "reset by server");
        co_return false;
    }
    co_return true;
}

}  // namespace proxy
