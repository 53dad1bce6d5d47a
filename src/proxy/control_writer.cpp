#include "proxy/control_writer.hpp"

namespace proxy {

ControlWriter::ControlWriter(tcp::socket& socket)
    : socket_(socket),
      wake_(socket.get_executor(), asio::steady_timer::time_point::max()),
      drained_(socket.get_executor(), asio::steady_timer::time_point::max()) {
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
    if (queued_.empty() && writing_.empty()) {
        error_code error;
        std::size_t sent = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), error);
        if (!error) bytes.remove_prefix(sent);
        if (bytes.empty()) return;
    }
    queued_.append(bytes);
    wake_.cancel();
}

void ControlWriter::close_after_flush() {
    closing_ = true;
    wake_.cancel();
}

awaitable<void> ControlWriter::wait_backlog_below(std::size_t limit) {
    while (!stopped_ && backlog() > limit) {
        error_code ignored;
        co_await drained_.async_wait(with_error(ignored));
    }
}

awaitable<void> ControlWriter::run() {
    error_code error;
    for (;;) {
        while (queued_.empty() && !closing_) {
            co_await wake_.async_wait(with_error(error));
        }
        if (queued_.empty()) break;  // closing and flushed
        std::swap(queued_, writing_);
        co_await asio::async_write(socket_, asio::buffer(writing_), with_error(error));
        writing_.clear();
        drained_.cancel();
        if (error) break;
    }
    stopped_ = true;
    queued_.clear();
    drained_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, error);
    socket_.close(error);
}

}  // namespace proxy
