#include "proxy/control_writer.hpp"

namespace proxy {

ControlWriter::ControlWriter(tcp::socket& socket)
    : socket_(socket),
      wake_(socket.get_executor(), asio::steady_timer::time_point::max()),
      drained_(socket.get_executor(), asio::steady_timer::time_point::max()) {}

void ControlWriter::post(std::string_view bytes) {
    if (closing_ || stopped_) return;
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
