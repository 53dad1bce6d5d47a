// Explicit FTPS on the client's side: the control connection turned into a
// TLS stream after the dialogue's 234 (AUTH TLS), and the context handed to
// data channels whose client leg is TLS (PROT P). The server side stays
// clear text.
#include <spdlog/spdlog.h>

#include "proxy/session.hpp"

namespace proxy {

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
    writer_.pause();
    client_tls_ = std::make_unique<TlsStream>(client_, *settings_.client_tls_context);
    asio::steady_timer deadline(io_, settings_.tls_timeout);
    deadline.async_wait([this](error_code error) {
        if (!error) client_.cancel(error);  // the handshake fails with operation_aborted
    });
    error_code error;
    co_await client_tls_->async_handshake(ssl::stream_base::server, with_error(error));
    const bool timed_out = error == asio::error::operation_aborted;
    deadline.cancel();
    if (ended_) co_return;
    if (error) {
        if (timed_out)
            spdlog::info("{} client sent AUTH TLS but no TLS handshake within {} s: closing", tag_,
                         settings_.tls_timeout.count());
        else
            spdlog::info("{} client TLS handshake failed: {}", tag_, error.message());
        end(timed_out ? "no TLS handshake" : "TLS handshake failed");
        co_return;
    }
    touch();
    spdlog::info("{} client control connection: {}", tag_, describe_tls(*client_tls_));
    writer_.use_tls(*client_tls_);
    dialogue_->client_tls_started(batch);
}

// The client's end of its TLS stream without close_notify is an end of
// stream like any other here: a control connection's commands are complete
// lines, and nothing half-received is acted on.
awaitable<std::size_t> Session::read_client(std::span<char> space, error_code& error) {
    auto buffer = asio::buffer(space.data(), space.size());
    std::size_t n = 0;
    if (client_tls_)
        n = co_await client_tls_->async_read_some(buffer, with_error(error));
    else
        n = co_await client_.async_read_some(buffer, with_error(error));
    if (error == ssl::error::stream_truncated) error = asio::error::eof;
    co_return n;
}

std::shared_ptr<ssl::context> Session::data_tls(bool client_tls) const {
    return client_tls ? settings_.client_tls_context : nullptr;
}

}  // namespace proxy
