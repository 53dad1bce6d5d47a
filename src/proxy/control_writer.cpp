#include "proxy/control_writer.hpp"

#include "proxy/net.hpp"

namespace proxy {
namespace {

// A burst of replies may grow the queue's buffers up to about the session's
// backlog limit; once they are sent, buffers above this size are given back
// so that a flood leaves no memory behind in a session that lives on.
constexpr std::size_t kKeptBufferCapacity = 4 * 1024;

}  // namespace

ControlWriter::ControlWriter(tcp::socket& socket)
    : socket_(socket),
      wake_(socket.get_executor(), asio::steady_timer::time_point::max()),
      drained_(socket.get_executor()),
      flush_deadline_(socket.get_executor()) {
    // post() writes directly when it can; it must never block the worker.
    error_code ignored;
    socket_.non_blocking(true, ignored);
}

void ControlWriter::post(std::string_view bytes) {
    if (closing_ || stopped_) return;
    // Nothing queued and no write in flight: send now, from the handler that
    // produced the reply, instead of waking the writer coroutine. Order is
    // kept (nothing is ahead of these bytes), and the reply skips a trip
    // through the scheduler (one epoll_wait and a timer cancellation): that
    // is most of the proxy's own share of a NOOP's round trip. Whatever the
    // socket does not take now goes to the writer as before; so does an
    // error, which the writer's async_write then meets and stops on.
    if (queued_.empty() && writing_.empty() && !paused_ && !tls_) {
        error_code error;
        std::size_t sent = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), error);
        if (!error) bytes.remove_prefix(sent);
        if (bytes.empty()) return;
    }
    queued_.append(bytes);
    wake_.cancel();
}

void ControlWriter::pause() {
    paused_ = true;
}

void ControlWriter::use_tls(TlsStream& stream) {
    tls_ = &stream;
    paused_ = false;
    wake_.cancel();
}

void ControlWriter::close_after_flush(std::chrono::seconds limit) {
    if (closing_) return;
    closing_ = true;
    wake_.cancel();
    // A client that stopped reading would keep its last replies (and this
    // session's memory and descriptor) pending for ever.
    flush_deadline_.expires_after(limit);
    flush_deadline_.async_wait([this](error_code error) {
        if (error || stopped_) return;  // flushed in time (or destroyed)
        reset_and_close(socket_);       // wakes the writer's async_write
    });
}

awaitable<void> ControlWriter::wait_backlog_below(std::size_t limit) {
    while (!stopped_ && backlog() > limit) co_await drained_.wait();
}

void ControlWriter::release_buffers() {
    if (queued_.capacity() > kKeptBufferCapacity) std::string().swap(queued_);
    if (writing_.capacity() > kKeptBufferCapacity) std::string().swap(writing_);
}

awaitable<void> ControlWriter::run() {
    error_code error;
    for (;;) {
        while ((queued_.empty() || paused_) && !closing_) {
            co_await wake_.async_wait(with_error(error));
        }
        // Closing and flushed, or closing in the middle of AUTH TLS.
        if (queued_.empty() || paused_) break;
        std::swap(queued_, writing_);
        if (tls_)
            co_await asio::async_write(*tls_, asio::buffer(writing_), with_error(error));
        else
            co_await asio::async_write(socket_, asio::buffer(writing_), with_error(error));
        writing_.clear();
        if (queued_.empty()) release_buffers();
        drained_.notify();
        if (error) break;
    }
    stopped_ = true;
    queued_.clear();
    release_buffers();
    if (tls_ && !error && !paused_) co_await tls_shutdown(*tls_);  // close_notify
    flush_deadline_.cancel();
    drained_.notify();
    socket_.shutdown(tcp::socket::shutdown_both, error);
    socket_.close(error);
}

}  // namespace proxy
