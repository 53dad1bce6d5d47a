#include "proxy/data_channel.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/net.hpp"
#include "proxy/splice_pipe.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {
namespace {

// For the transfer's log line: whether the server leg resumed the control
// connection's TLS session (what vsftpd and ProFTPD demand).
const char* server_resumption(TlsStream& stream) {
    return SSL_session_reused(stream.native_handle()) == 1 ? " resumed" : " new session";
}

// A data leg reads ahead: one recv(2) takes whatever records have come, up
// to 64 KiB, where OpenSSL would otherwise make two per 16 KiB record
// (header, then body). The buffer goes when the leg does (data connections
// do not idle).
void read_ahead(TlsStream& stream) {
    SSL* native = stream.native_handle();
    SSL_set_read_ahead(native, 1);
    SSL_set_default_read_buffer_len(native, 64 * 1024);
}

}  // namespace

DataEnd DataEnd::accept(tcp::acceptor listener, asio::ip::address allowed_peer) {
    DataEnd end;
    end.listener.emplace(std::move(listener));
    end.allowed_peer = canonical(allowed_peer);
    return end;
}

DataEnd DataEnd::connect(tcp::endpoint to, std::optional<tcp::endpoint> from, bool transparent) {
    DataEnd end;
    end.connect_to = to;
    end.connect_from = from;
    end.transparent = transparent;
    return end;
}

std::shared_ptr<DataChannel> DataChannel::create(asio::io_context& io, std::string log_prefix,
                                                 std::shared_ptr<SessionActivity> activity,
                                                 DataEnd client, DataEnd server,
                                                 std::chrono::seconds setup_timeout,
                                                 RelayConfig relay, DataTls tls) {
    return std::make_shared<DataChannel>(io, std::move(log_prefix), std::move(activity),
                                         std::move(client), std::move(server), setup_timeout, relay,
                                         std::move(tls));
}

DataChannel::DataChannel(asio::io_context& io, std::string log_prefix,
                         std::shared_ptr<SessionActivity> activity, DataEnd client, DataEnd server,
                         std::chrono::seconds setup_timeout, RelayConfig relay, DataTls tls)
    : io_(io),
      log_prefix_(std::move(log_prefix)),
      activity_(std::move(activity)),
      client_end_(std::move(client)),
      server_end_(std::move(server)),
      client_(io),
      server_(io),
      tls_(std::move(tls)),
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

void DataChannel::server_ready() {
    server_ready_ = true;
    answered_.notify();
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
                                    side, format_endpoint(peer), end.allowed_peer.to_string());
        }
    }
    socket.open(end.connect_to.protocol(), error);
    if (!error && end.connect_from) {
        socket.set_option(asio::socket_base::reuse_address(true), error);
        if (!error && end.transparent)
            set_transparent(socket.native_handle(), end.connect_from->address().is_v4(), error);
        if (!error) socket.bind(*end.connect_from, error);
    }
    if (error) {
        spdlog::warn("{} cannot prepare {} data connection to {}: {}", log_prefix_, side,
                     format_endpoint(end.connect_to), error.message());
        co_return false;
    }
    co_await socket.async_connect(end.connect_to, with_error(error));
    if (error) {
        if (!closed_)
            activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                    "{} data connection to {} failed: {}", side,
                                    format_endpoint(end.connect_to), error.message());
        co_return false;
    }
    co_return true;
}

// Bounded by the setup timer, which closes the channel (and so the socket
// under the handshake).
awaitable<bool> DataChannel::client_handshake() {
    auto stream = std::make_unique<TlsStream>(client_, *tls_.client);
    SSL* native = stream->native_handle();
    // No TLS 1.3 session tickets on a data connection: a client that only
    // writes (an upload) never reads them, and closing its socket with them
    // unread makes its kernel send a reset that can overtake the last bytes
    // of the upload (measured with rclone: the tail lost, vsftpd 426). The
    // client resumes with the control connection's tickets anyway.
    SSL_set_num_tickets(native, 0);
    read_ahead(*stream);
    // (A TLS 1.2 ticket renewed here still names the control connection.)
    bind_issued_sessions(native, tls_.client_binding);
    error_code error;
    co_await stream->async_handshake(ssl::stream_base::server, with_error(error));
    if (error) {
        if (!closed_)
            activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                    "client TLS handshake on the data connection failed: {}",
                                    error.message());
        co_return false;
    }
    const Resumption resumed = resumption_of(native, tls_.client_binding);
    client_leg_ = describe_tls(*stream);
    client_leg_ += resumed == Resumption::Control ? " resumed"
                   : resumed == Resumption::Other ? " resumed another connection's session"
                                                  : " new session";
    if (tls_.client_reuse_required && resumed != Resumption::Control) {
        const char* why = resumed == Resumption::Other
                              ? "resumed the TLS session of another control connection"
                              : "did not resume the control connection's TLS session";
        activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                "client data connection refused: it {} (--client-tls-reuse "
                                "required)",
                                why);
        client_refusal_ = std::string("Data connection refused: it ") + why +
                          ", and this proxy requires TLS session reuse.";
        co_return false;
    }
    client_tls_ = std::move(stream);
    co_return true;
}

// The FTP client is the TLS client whoever connected (RFC 4217): so is the
// proxy toward the server, resuming the control connection's session.
awaitable<bool> DataChannel::server_handshake() {
    // (A final reply without a 1xx: the transfer is over before it began;
    // the session closes the channel.)
    while (!server_ready_ && !server_answered_ && !closed_) co_await answered_.wait();
    if (closed_) co_return false;
    auto stream = std::make_unique<TlsStream>(server_, *tls_.server->context);
    prepare_server_leg(*stream, *tls_.server);
    read_ahead(*stream);
    if (tls_.resume) SSL_set_session(stream->native_handle(), tls_.resume.get());
    error_code error;
    co_await stream->async_handshake(ssl::stream_base::client, with_error(error));
    const std::string problem = server_leg_problem(*stream, *tls_.server, error);
    if (!problem.empty()) {
        if (!closed_)
            activity_->log_provoked(spdlog::level::warn, log_prefix_,
                                    "server TLS handshake on the data connection failed: {}",
                                    problem);
        co_return false;
    }
    server_leg_ = describe_tls(*stream) + server_resumption(*stream);
    server_tls_ = std::move(stream);
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
    // (if, not &&: g++ 12 mishandles co_await inside conditional expressions)
    if (ok && !closed_ && tls_.client) ok = co_await client_handshake();
    if (ok && !closed_ && tls_.server) ok = co_await server_handshake();
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

TransferProgress DataChannel::progress() {
    TransferProgress now{command_, to_client_bytes_ + to_server_bytes_, 0};
    if (state_ == State::Relaying)
        now.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - relay_start_).count();
    return now;
}

void DataChannel::finish() {
    if (state_ == State::Finished) return;
    state_ = State::Finished;
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - relay_start_);
    // The relay named is what moved this channel's bytes: "splice",
    // "read/write", both (one direction each), or "none" (nothing relayed).
    const char* relay =
        spliced_ ? (copied_ ? "splice+read/write" : "splice") : (copied_ ? "read/write" : "none");
    // The legs in parentheses after the relay: "relay X" stays a word of
    // its own for the scripts that read it (tests, bench).
    spdlog::info(
        "{} data {}: {}, {} bytes to client, {} bytes to server, {:.3f} s, relay {} (client leg "
        "{}, server leg {})",
        log_prefix_, end_reason_.empty() ? "completed" : end_reason_,
        command_.empty() ? "(no command)" : command_, to_client_bytes_, to_server_bytes_,
        seconds.count(), relay, client_leg_, server_leg_);
    metrics().data_finished(to_client_bytes_, to_server_bytes_, seconds.count(), !command_.empty());
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    mark_server_data_delivered();
}

}  // namespace proxy
