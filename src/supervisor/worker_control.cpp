#include "supervisor/worker_control.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <utility>

namespace supervisor {

namespace {

// An answer is one JSON object of about 1.5 KiB (its counters included);
// anything longer is not our worker.
constexpr std::size_t kMaxAnswer = 16384;

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
    if (const auto metrics = json.find("metrics"); metrics != json.end() && metrics->is_object())
        stats.metrics = *metrics;
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

WorkerControl::Sent WorkerControl::send_request(std::string_view request) {
    if (!socket_.is_open()) return Sent::broken;
    const ssize_t sent = ::send(socket_.native_handle(), request.data(), request.size(),
                                MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(request.size())) {
        ++owed_;
        return Sent::ok;
    }
    return sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Sent::full : Sent::broken;
}

bool WorkerControl::send_drain() {
    return send_request("drain\n") == Sent::ok;
}

bool WorkerControl::send_backend(const asio::ip::tcp::endpoint& server) {
    return send_request("backend " + server.address().to_string() + " " +
                        std::to_string(server.port()) + "\n") == Sent::ok;
}

void WorkerControl::close() {
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
}

awaitable<std::string> WorkerControl::read_answer(std::shared_ptr<WorkerControl> self,
                                                  error_code& error) {
    const std::size_t length = co_await asio::async_read_until(
        self->socket_, asio::dynamic_buffer(self->buffer_, kMaxAnswer), '\n', with_error(error));
    if (error) co_return std::string();
    std::string line = self->buffer_.substr(0, length - 1);
    self->buffer_.erase(0, length);
    --self->owed_;
    co_return line;
}

awaitable<StatsReply> WorkerControl::query_stats(std::shared_ptr<WorkerControl> self,
                                                 std::chrono::milliseconds timeout) {
    using Outcome = StatsReply::Outcome;
    if (!self->socket_.is_open()) co_return StatsReply{};
    if (self->busy_) {
        auto waiter = std::make_shared<asio::steady_timer>(self->socket_.get_executor(),
                                                           asio::steady_timer::time_point::max());
        self->waiters_.push_back(waiter);
        error_code ignored;
        co_await waiter->async_wait(with_error(ignored));
        co_return self->last_reply_;
    }
    self->busy_ = true;
    const std::uint64_t generation = ++self->generation_;
    self->timer_.expires_after(timeout);
    self->timer_.async_wait([weak = std::weak_ptr<WorkerControl>(self), generation](error_code e) {
        const auto control = weak.lock();
        if (!e && control && control->generation_ == generation) {
            error_code ignored;
            control->socket_.cancel(ignored);  // the pending read ends with operation_aborted
        }
    });

    StatsReply reply{Outcome::no_answer, {}};
    error_code error;
    // What earlier requests are owed first; whatever was half read stays in
    // buffer_ for the next try.
    while (!error && self->owed_ > 0) co_await read_answer(self, error);
    if (!error) {
        const Sent sent = self->send_request("stats\n");
        if (sent == Sent::broken) reply.outcome = Outcome::unavailable;
        if (sent == Sent::ok) {
            const std::string line = co_await read_answer(self, error);
            if (!error) {
                const auto stats = parse_worker_stats(line);
                reply = stats ? StatsReply{Outcome::answered, *stats} : StatsReply{};
                if (!stats) spdlog::warn("worker control channel: unexpected answer: {}", line);
            }
        }
    }
    ++self->generation_;
    self->timer_.cancel();
    self->busy_ = false;
    if (error && !(error == asio::error::operation_aborted && self->socket_.is_open())) {
        self->close();  // broken, or closed meanwhile: the worker is going away
        reply.outcome = Outcome::unavailable;
    }
    self->last_reply_ = reply;
    if (reply.outcome == Outcome::answered && !reply.stats.metrics.is_null())
        self->last_metrics_ = reply.stats.metrics;
    for (auto& waiter : std::exchange(self->waiters_, {})) waiter->cancel();
    co_return reply;
}

awaitable<Replies> ask_workers(
    asio::io_context& io, std::vector<std::pair<pid_t, std::shared_ptr<WorkerControl>>> controls,
    std::chrono::milliseconds timeout) {
    auto replies = std::make_shared<Replies>();
    auto pending = std::make_shared<std::size_t>(controls.size());
    auto all_in = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    for (auto& [pid, control] : controls) {
        asio::co_spawn(io, WorkerControl::query_stats(control, timeout),
                       [replies, pending, all_in, pid = pid](std::exception_ptr, StatsReply reply) {
                           (*replies)[pid] = reply;
                           if (--*pending == 0) all_in->cancel();
                       });
    }
    // The answers come in only once this coroutine waits (one thread).
    error_code cancelled;
    if (*pending > 0) co_await all_in->async_wait(with_error(cancelled));
    co_return std::move(*replies);
}

}  // namespace supervisor
