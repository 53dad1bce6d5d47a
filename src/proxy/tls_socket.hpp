// A TLS connection over a tcp::socket that it does not own, without the
// buffers of asio::ssl::stream: its stream_core holds two 17 KiB buffers and
// its engine's BIO pair two more, 68 KiB per stream whether it is idle or
// not. Here the SSL object reads and writes the socket's descriptor itself
// (non-blocking), and Asio only waits for readiness whenever OpenSSL says
// SSL_ERROR_WANT_READ or WANT_WRITE. With SSL_MODE_RELEASE_BUFFERS and the
// record buffers given back while a read waits, an idle stream costs the SSL
// object only.
//
// The interface is the part of asio::ssl::stream<tcp::socket&> the worker
// uses, with the same completion signatures and error codes:
// * asio::error::eof after the peer's close_notify;
// * ssl::error::stream_truncated when TCP ends without one;
// * asio::error::operation_aborted when the socket is cancelled or closed
//   under a pending operation (the callers' timeouts);
// * system errors (ECONNRESET...) in the system category, OpenSSL failures
//   in Asio's ssl category (value: ERR_get_error()), the rest of OpenSSL's
//   error queue left for the caller (handshake_failure() reads it).
//
// One read and one write may be pending at the same time, and a shutdown
// with a read (everything on one thread: OpenSSL calls interleave only
// between completions). A shutdown sends close_notify, then waits for the
// peer's without taking anything from a reader: it completes at once if a read
// is pending (the read sees the peer's answer as eof), and when application
// data comes before the peer's close_notify (left in OpenSSL for the next
// read). asio::ssl::stream's shutdown read and dropped such data instead.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>

#include "proxy/asio.hpp"

// clang-format off
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
// clang-format on

namespace proxy {

class TlsSocket {
  public:
    using executor_type = tcp::socket::executor_type;

    // Sets the socket non-blocking: OpenSSL calls on it must never block the
    // worker.
    TlsSocket(tcp::socket& socket, asio::ssl::context& context);
    TlsSocket(const TlsSocket&) = delete;
    TlsSocket& operator=(const TlsSocket&) = delete;
    ~TlsSocket();

    executor_type get_executor() { return socket_.get_executor(); }
    tcp::socket& next_layer() { return socket_; }
    SSL* native_handle() { return ssl_.get(); }

    // Completes with (error_code).
    template <typename Token>
    auto async_handshake(asio::ssl::stream_base::handshake_type type, Token&& token) {
        if (type == asio::ssl::stream_base::client)
            SSL_set_connect_state(ssl_.get());
        else
            SSL_set_accept_state(ssl_.get());
        return asio::async_compose<Token, void(error_code)>(Op<Kind::Handshake>{*this}, token,
                                                            socket_);
    }

    // Both complete with (error_code, bytes), for the first non-empty buffer
    // of the sequence (as asio::ssl::stream does).
    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        asio::mutable_buffer buffer = first_buffer<asio::mutable_buffer>(buffers);
        reading_ = true;
        return asio::async_compose<Token, void(error_code, std::size_t)>(
            Op<Kind::Read>{*this, buffer.data(), buffer.size()}, token, socket_);
    }
    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        asio::const_buffer buffer = first_buffer<asio::const_buffer>(buffers);
        return asio::async_compose<Token, void(error_code, std::size_t)>(
            Op<Kind::Write>{*this, const_cast<void*>(buffer.data()), buffer.size()}, token,
            socket_);
    }

    // close_notify, then the peer's (see above). Completes with (error_code).
    template <typename Token>
    auto async_shutdown(Token&& token) {
        return asio::async_compose<Token, void(error_code)>(Op<Kind::Shutdown>{*this}, token,
                                                            socket_);
    }

  private:
    enum class Kind { Handshake, Read, Write, Shutdown };
    enum class Next { Done, WaitRead, WaitWrite };
    struct Step {
        Next next = Next::Done;
        error_code error;
        std::size_t bytes = 0;
    };
    struct SslDeleter {
        void operator()(SSL* ssl) const { SSL_free(ssl); }
    };

    template <typename Buffer, typename Buffers>
    static Buffer first_buffer(const Buffers& buffers) {
        for (auto it = asio::buffer_sequence_begin(buffers);
             it != asio::buffer_sequence_end(buffers); ++it) {
            Buffer buffer(*it);
            if (buffer.size() != 0) return buffer;
        }
        return Buffer();
    }

    // One OpenSSL call (two for a shutdown) and what it asks for next.
    Step step(Kind kind, void* data, std::size_t size);
    Step transfer(Kind kind, char* data, std::size_t size, error_code& deferred);
    Step shutdown_step();
    Step failure(Kind kind, int result);
    void clear_errors();
    void finished(Kind kind) {
        if (kind == Kind::Read) reading_ = false;
    }

    // The operation: one step per invocation, a readiness wait on the socket
    // between steps. A result found without waiting is posted, never
    // delivered from inside the initiating function.
    template <Kind K>
    struct Op {
        TlsSocket& tls;
        void* data = nullptr;
        std::size_t size = 0;
        Step result{};
        bool started = false;
        bool posted = false;

        template <typename Self>
        void operator()(Self& self, error_code error = {}) {
            if (posted) return complete(self);
            const bool first = !started;
            started = true;
            if (error) {
                // The wait was cancelled or the socket closed: no OpenSSL
                // call on a descriptor that may be gone.
                result.error = error;
                tls.finished(K);
                return complete(self);
            }
            result = tls.step(K, data, size);
            if (result.next == Next::Done) tls.finished(K);  // no longer pending for a shutdown
            if (result.next == Next::WaitRead) {
                tls.socket_.async_wait(tcp::socket::wait_read, std::move(self));
            } else if (result.next == Next::WaitWrite) {
                tls.socket_.async_wait(tcp::socket::wait_write, std::move(self));
            } else if (first) {
                posted = true;
                asio::post(tls.socket_.get_executor(), std::move(self));
            } else {
                complete(self);
            }
        }

        template <typename Self>
        void complete(Self& self) {
            if constexpr (K == Kind::Read || K == Kind::Write)
                self.complete(result.error, result.bytes);
            else
                self.complete(result.error);
        }
    };

    tcp::socket& socket_;
    std::unique_ptr<SSL, SslDeleter> ssl_;
    int fd_;                // the socket's descriptor when bound: a closed socket is never used
    int last_errno_ = 0;    // of the last failed send/recv, for SSL_ERROR_SYSCALL
    bool eof_ = false;      // recv() returned 0
    bool reading_ = false;  // a read is pending
    bool close_notify_flushed_ = false;  // our close_notify left (shutdown's first half)
    error_code deferred_read_error_, deferred_write_error_;  // see transfer()

    friend struct TlsSocketBio;
};

}  // namespace proxy
