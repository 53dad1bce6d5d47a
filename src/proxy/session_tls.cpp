// Explicit FTPS on both sides: the client's control connection turned into
// a TLS stream after the dialogue's 234 (AUTH TLS), the server's after the
// server's 234 to the proxy's own AUTH TLS, and what data channels need for
// their TLS legs (PROT P toward the client; toward the server, the control
// connection's session to resume).
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "proxy/session.hpp"

namespace proxy {
namespace {

// A control connection's handshake (either side), bounded by --tls-timeout:
// at the deadline the socket's operations are cancelled, and the handshake
// fails with operation_aborted.
awaitable<void> handshake_within(TlsStream& stream, ssl::stream_base::handshake_type role,
                                 std::chrono::seconds timeout, error_code& error) {
    tcp::socket& socket = stream.next_layer();
    asio::steady_timer deadline(socket.get_executor(), timeout);
    deadline.async_wait([&socket](error_code expired) {
        if (!expired) socket.cancel(expired);
    });
    co_await stream.async_handshake(role, with_error(error));
    deadline.cancel();
}

// A control connection's end of TLS without close_notify is an end of
// stream like any other: commands and replies are complete lines, and
// nothing half-received is acted on.
awaitable<std::size_t> read_control(tcp::socket& socket, TlsStream* tls, std::span<char> space,
                                    error_code& error) {
    auto buffer = asio::buffer(space.data(), space.size());
    std::size_t n = 0;
    if (tls)
        n = co_await tls->async_read_some(buffer, with_error(error));
    else
        n = co_await socket.async_read_some(buffer, with_error(error));
    if (error == ssl::error::stream_truncated) error = asio::error::eof;
    co_return n;
}

}  // namespace

// The dialogue's StartClientTls: its 234 was posted just before.
awaitable<void> Session::start_client_tls(ftp::Actions& batch) {
    // Bytes behind the AUTH line came in clear text before the handshake;
    // taken as commands, they would pass for protected ones (the STARTTLS
    // command injection of CVE-2011-0411). No client sends any.
    if (client_in_.pending() != 0) {
        spdlog::warn("{} clear text after AUTH TLS ({} bytes): closing", tag_,
                     client_in_.pending());
        end("clear text after AUTH TLS");
        co_return;
    }
    // The 234 must reach the client in clear text, and nothing after it.
    co_await writer_.wait_backlog_below(0);
    if (ended_) co_return;
    const bool secured = co_await client_control_handshake("sent AUTH TLS but ");
    if (secured) dialogue_->client_tls_started(batch);
}

// The server side of the client's handshake on the control connection
// (after AUTH TLS, or first thing under --tls-implicit), bounded by
// --tls-timeout. False: the session is over (nothing can be said to a
// client whose TLS failed).
awaitable<bool> Session::client_control_handshake(std::string_view context) {
    writer_.pause();
    client_tls_ = std::make_unique<TlsStream>(client_, *settings_.client_tls_context);
    // The sessions issued on this connection name it (tls_binding.hpp).
    client_binding_ = new_control_binding();
    bind_issued_sessions(client_tls_->native_handle(), client_binding_);
    error_code error;
    co_await handshake_within(*client_tls_, ssl::stream_base::server, settings_.tls_timeout, error);
    const bool timed_out = error == asio::error::operation_aborted;
    if (ended_) co_return false;
    if (error) {
        if (timed_out)
            spdlog::info("{} client {}no TLS handshake within {} s: closing", tag_, context,
                         settings_.tls_timeout.count());
        else
            spdlog::info("{} client TLS handshake failed: {}", tag_, error.message());
        end(timed_out ? "no TLS handshake" : "TLS handshake failed");
        co_return false;
    }
    touch();
    note_control_session(client_tls_->native_handle(), client_binding_);
    spdlog::info("{} client control connection: {}", tag_, describe_tls(*client_tls_));
    writer_.use_tls(*client_tls_);
    co_return true;
}

awaitable<std::size_t> Session::read_client(std::span<char> space, error_code& error) {
    const std::size_t n = co_await read_control(client_, client_tls_.get(), space, error);
    co_return n;
}

// The dialogue's StartServerTls: the server answered 234 to our AUTH TLS.
awaitable<void> Session::start_server_tls(ftp::Actions& batch) {
    // Anything behind the 234 came in clear text: taken as replies, it would
    // pass for protected ones (the STARTTLS injection, from the server).
    if (server_in_.pending() != 0) {
        spdlog::warn("{} clear text from the server after its 234 ({} bytes)", tag_,
                     server_in_.pending());
        dialogue_->server_tls_failed("the server sent clear text after its 234", batch);
        co_return;
    }
    server_tls_ = std::make_unique<TlsStream>(server_, *settings_.server_tls_policy.context);
    prepare_server_leg(*server_tls_, settings_.server_tls_policy);
    error_code error;
    co_await handshake_within(*server_tls_, ssl::stream_base::client, settings_.tls_timeout, error);
    const bool timed_out = error == asio::error::operation_aborted;
    if (ended_) co_return;
    std::string problem;
    if (timed_out)
        problem = "no TLS handshake within " + std::to_string(settings_.tls_timeout.count()) + " s";
    else
        problem = server_leg_problem(*server_tls_, settings_.server_tls_policy, error);
    if (!problem.empty()) {
        dialogue_->server_tls_failed(problem, batch);
        co_return;
    }
    touch();
    spdlog::info("{} server control connection: {}", tag_, describe_tls(*server_tls_));
    dialogue_->server_tls_started(batch);
}

awaitable<std::size_t> Session::read_server(std::span<char> space, error_code& error) {
    const std::size_t n = co_await read_control(server_, server_tls_.get(), space, error);
    co_return n;
}

// Only for a TLS connection to the server; clear text goes the faster way of
// send_to_server().
awaitable<void> Session::write_server(std::string_view bytes, error_code& error) {
    co_await asio::async_write(*server_tls_, asio::buffer(bytes.data(), bytes.size()),
                               with_error(error));
}

DataTls Session::data_tls(bool client_tls, bool server_tls) const {
    DataTls tls;
    if (client_tls) {
        tls.client = settings_.client_tls_context;
        tls.client_binding = client_binding_;
        tls.client_reuse_required = settings_.client_tls_reuse_required;
    }
    if (server_tls && server_tls_) {
        tls.server = &settings_.server_tls_policy;
        // The newest session of the control connection: with TLS 1.3 that
        // is the last ticket the server sent on it (OpenSSL keeps it there).
        SSL_SESSION* session = SSL_get1_session(server_tls_->native_handle());
        if (session) tls.resume.reset(session, SSL_SESSION_free);
    }
    return tls;
}

}  // namespace proxy
