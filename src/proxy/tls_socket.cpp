#include "proxy/tls_socket.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>

namespace proxy {

// The SSL object's BIO: send(2) and recv(2) on the socket's descriptor.
// OpenSSL's own socket BIO (SSL_set_fd) writes with write(2), which raises
// SIGPIPE on a connection the peer reset, and the worker does not ignore
// SIGPIPE; MSG_NOSIGNAL here makes that an EPIPE like any other error.
struct TlsSocketBio {
    static TlsSocket& owner(BIO* bio) { return *static_cast<TlsSocket*>(BIO_get_data(bio)); }

    static int write(BIO* bio, const char* data, int size) {
        TlsSocket& tls = owner(bio);
        BIO_clear_retry_flags(bio);
        ssize_t n = 0;
        do n = ::send(tls.fd_, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(bio);
        else
            tls.last_errno_ = errno;
        return -1;
    }

    static int read(BIO* bio, char* data, int size) {
        TlsSocket& tls = owner(bio);
        BIO_clear_retry_flags(bio);
        ssize_t n = 0;
        do n = ::recv(tls.fd_, data, static_cast<std::size_t>(size), 0);
        while (n < 0 && errno == EINTR);
        if (n > 0) return static_cast<int>(n);
        if (n == 0) {
            tls.eof_ = true;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(bio);
        else
            tls.last_errno_ = errno;
        return -1;
    }

    static long control(BIO* bio, int command, long, void*) {
        switch (command) {
            case BIO_CTRL_FLUSH:  // nothing is buffered here
                return 1;
            case BIO_CTRL_EOF:  // OpenSSL tells an unexpected EOF from an error by this
                return owner(bio).eof_ ? 1 : 0;
            default:
                return 0;
        }
    }

    static int create(BIO* bio) {
        BIO_set_init(bio, 1);
        return 1;
    }

    static const BIO_METHOD* method() {
        static const BIO_METHOD* const made = [] {
            BIO_METHOD* m =
                BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ftp-proxy socket");
            if (!m || BIO_meth_set_write(m, write) != 1 || BIO_meth_set_read(m, read) != 1 ||
                BIO_meth_set_ctrl(m, control) != 1 || BIO_meth_set_create(m, create) != 1)
                throw std::bad_alloc();
            return m;
        }();
        return made;
    }
};

TlsSocket::TlsSocket(tcp::socket& socket, asio::ssl::context& context)
    : socket_(socket), ssl_(SSL_new(context.native_handle())), fd_(socket.native_handle()) {
    if (!ssl_) throw std::bad_alloc();
    BIO* bio = BIO_new(TlsSocketBio::method());
    if (!bio) throw std::bad_alloc();
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_.get(), bio, bio);  // one reference for both directions, now the SSL's
    // A write that returned WANT_WRITE is retried with the same bytes, from
    // wherever the caller's buffer is; record buffers are freed when empty.
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    error_code error;
    socket_.non_blocking(true, error);  // (a closed socket: every step says bad_descriptor)
}

TlsSocket::~TlsSocket() = default;

TlsSocket::Step TlsSocket::step(Kind kind, void* data, std::size_t size) {
    // The socket may have been closed (and its number reused) since.
    if (!socket_.is_open() || socket_.native_handle() != fd_)
        return {Next::Done, asio::error::bad_descriptor, 0};
    SSL* ssl = ssl_.get();
    switch (kind) {
        case Kind::Handshake: {
            clear_errors();
            const int result = SSL_do_handshake(ssl);
            if (result == 1) return {};
            return failure(kind, result);
        }
        case Kind::Read:
            return transfer(kind, static_cast<char*>(data), size, deferred_read_error_);
        case Kind::Write:
            return transfer(kind, static_cast<char*>(data), size, deferred_write_error_);
        case Kind::Shutdown:
            return shutdown_step();
    }
    return {};
}

// As many records as fit (a relay's buffer holds four): one completion for
// them all. An error after some bytes is kept for the next call, which the
// caller makes to read or write the rest; OpenSSL would not say the same
// thing twice (an unexpected EOF becomes a generic failure).
TlsSocket::Step TlsSocket::transfer(Kind kind, char* data, std::size_t size, error_code& deferred) {
    if (deferred) {
        const error_code error = deferred;
        deferred = {};
        return {Next::Done, error, 0};
    }
    std::size_t total = 0;
    while (total < size) {
        clear_errors();
        std::size_t bytes = 0;
        const int result = kind == Kind::Read
                               ? SSL_read_ex(ssl_.get(), data + total, size - total, &bytes)
                               : SSL_write_ex(ssl_.get(), data + total, size - total, &bytes);
        if (result == 1) {
            total += bytes;
            continue;
        }
        Step failed = failure(kind, result);
        if (total == 0) return failed;
        // A write that must wait holds the rest of its record: the caller's
        // next call starts with exactly those bytes, as OpenSSL requires.
        if (failed.next == Next::Done) deferred = failed.error;
        break;
    }
    return {Next::Done, {}, total};
}

void TlsSocket::clear_errors() {
    ERR_clear_error();
    last_errno_ = 0;
}

// First our close_notify (SSL_shutdown() says 0 once it is out, 1 if the
// peer's came before), then the peer's. SSL_shutdown() would wait for that by
// reading and dropping whatever comes first; SSL_peek() drops nothing: data
// before the peer's close_notify stays for a read, and the shutdown is over
// then (the read sees the end after the data). With a read pending, the read
// takes the answer.
TlsSocket::Step TlsSocket::shutdown_step() {
    SSL* ssl = ssl_.get();
    if (!close_notify_flushed_) {
        clear_errors();
        const int result = SSL_shutdown(ssl);
        if (result == 1) return {};
        if (result != 0) return failure(Kind::Shutdown, result);
        close_notify_flushed_ = true;
    }
    if (reading_ || (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0) return {};
    clear_errors();
    char byte = 0;
    std::size_t bytes = 0;
    const int result = SSL_peek_ex(ssl, &byte, 1, &bytes);
    if (result == 1) return {};
    Step failed = failure(Kind::Shutdown, result);
    if (failed.error == asio::error::eof) return {};  // the peer's close_notify
    return failed;
}

TlsSocket::Step TlsSocket::failure(Kind kind, int result) {
    SSL* ssl = ssl_.get();
    switch (SSL_get_error(ssl, result)) {
        case SSL_ERROR_WANT_READ:
            // Nothing to read now: an idle connection keeps no record
            // buffer while it waits (OpenSSL frees nothing half-filled).
            if (kind == Kind::Read) SSL_free_buffers(ssl);
            return {Next::WaitRead, {}, 0};
        case SSL_ERROR_WANT_WRITE:
            return {Next::WaitWrite, {}, 0};
        case SSL_ERROR_ZERO_RETURN:
            return {Next::Done, asio::error::eof, 0};
        case SSL_ERROR_SYSCALL: {
            if (last_errno_ != 0)
                return {Next::Done, error_code(last_errno_, asio::error::get_system_category()), 0};
            const unsigned long code = ERR_get_error();
            if (code != 0)
                return {Next::Done,
                        error_code(static_cast<int>(code), asio::error::get_ssl_category()), 0};
            return {Next::Done, asio::ssl::error::stream_truncated, 0};
        }
        case SSL_ERROR_SSL: {
            const unsigned long code = ERR_get_error();
            if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
                ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                return {Next::Done, asio::ssl::error::stream_truncated, 0};
            if (code == 0 && last_errno_ != 0)
                return {Next::Done, error_code(last_errno_, asio::error::get_system_category()), 0};
            if (code == 0) return {Next::Done, asio::ssl::error::unspecified_system_error, 0};
            return {Next::Done, error_code(static_cast<int>(code), asio::error::get_ssl_category()),
                    0};
        }
        default:
            return {Next::Done, asio::ssl::error::unspecified_system_error, 0};
    }
}

}  // namespace proxy
