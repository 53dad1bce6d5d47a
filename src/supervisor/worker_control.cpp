#include "supervisor/worker_control.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

namespace supervisor {

namespace {

// An answer is one short JSON object; anything longer is not our worker.
constexpr std::size_t kMaxAnswer = 4096;

}  // namespace

std::optional<WorkerStats> parse_worker_stats(std::string_view line) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return std::nullopt;
    const auto sessions = json.find("sessions");
    const auto accepted = json.find("accepted");
    if (sessions == json.end() || !sessions->is_number_integer() || *sessions < 0) {
        return std::nullopt;
    }
    WorkerStats stats;
    stats.sessions = sessions->get<std::int64_t>();
    if (accepted != json.end() && accepted->is_number_integer()) {
        stats.accepted = accepted->get<std::int64_t>();
    }
    return stats;
}

WorkerControl::WorkerControl(asio::io_context& io, common::UniqueFd fd) : socket_(io), timer_(io) {
    error_code error;
    socket_.assign(asio::local::stream_protocol(), fd.get(), error);
    if (!error) {
        fd.release();
    } else {
        spdlog::warn("worker control channel unusable: {}", error.message());
    }
}

bool WorkerControl::send_drain() {
    if (!socket_.is_open()) return false;
    // A request this short goes out in one send on a socketpair with room;
    // done synchronously so it never interleaves with a query's write.
    static constexpr std::string_view request = "drain\n";
    const ssize_t sent = ::send(socket_.native_handle(), request.data(), request.size(),
                                MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent == static_cast<ssize_t>(request.size());
}

void WorkerControl::close() {
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
}

awaitable<std::optional<WorkerStats>> WorkerControl::query_stats(
    std::shared_ptr<WorkerControl> self, std::chrono::milliseconds timeout) {
    if (self->busy_ || !self->socket_.is_open()) co_return std::nullopt;
    self->busy_ = true;
    const std::uint64_t generation = ++self->generation_;
    self->timer_.expires_after(timeout);
    self->timer_.async_wait([weak = std::weak_ptr<WorkerControl>(self), generation](error_code e) {
        const auto control = weak.lock();
        if (!e && control && control->generation_ == generation) {
            error_code ignored;
            control->socket_.close(ignored);  // the pending read ends with an error
        }
    });

    static const std::string request = "stats\n";
    error_code error;
    co_await asio::async_write(self->socket_, asio::buffer(request), with_error(error));
    std::optional<WorkerStats> stats;
    while (!error && !stats) {
        const std::size_t length = co_await asio::async_read_until(
            self->socket_, asio::dynamic_buffer(self->buffer_, kMaxAnswer), '\n',
            with_error(error));
        if (error) break;
        stats = parse_worker_stats(std::string_view(self->buffer_).substr(0, length - 1));
        self->buffer_.erase(0, length);
    }
    ++self->generation_;
    self->timer_.cancel();
    self->busy_ = false;
    if (error) {
        self->close();
        co_return std::nullopt;
    }
    co_return stats;
}

}  // namespace supervisor
