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
                                                  error_code& error, std::size_t max_answer) {
    const std::size_t length = co_await asio::async_read_until(
        self->socket_, asio::dynamic_buffer(self->buffer_, max_answer), '\n', with_error(error));
    if (error) co_return std::string();
    std::string line = self->buffer_.substr(0, length - 1);
    self->buffer_.erase(0, length);
    --self->owed_;
    co_return line;
}

awaitable<StatsReply> WorkerControl::query_stats(std::shared_ptr<WorkerControl> self,
                                                 std::chrono::milliseconds timeout) {
    if (!self->socket_.is_open()) co_return StatsReply{};
    // A stats query under way: its answer is this caller's too. Another
    // request under way: this one's turn comes after it.
    if (self->busy_ && self->asking_stats_) {
        co_await wait_turn(self);
        co_return self->last_reply_;
    }
    while (self->busy_ && self->socket_.is_open()) co_await wait_turn(self);
    if (!self->socket_.is_open()) co_return StatsReply{};
    self->asking_stats_ = true;
    const Exchange answer = co_await exchange(self, "stats\n", timeout, kMaxAnswer);
    self->asking_stats_ = false;
    StatsReply reply{answer.outcome, {}};
    if (answer.outcome == StatsReply::Outcome::answered) {
        const auto stats = parse_worker_stats(answer.line);
        reply = stats ? StatsReply{StatsReply::Outcome::answered, *stats} : StatsReply{};
        if (!stats) spdlog::warn("worker control channel: unexpected answer: {}", answer.line);
    }
    self->last_reply_ = reply;
    if (reply.outcome == StatsReply::Outcome::answered && !reply.stats.metrics.is_null())
        self->last_metrics_ = reply.stats.metrics;
    self->finish_turn();
    co_return reply;
}

awaitable<std::optional<std::string>> WorkerControl::ask(std::shared_ptr<WorkerControl> self,
                                                         std::string request,
                                                         std::chrono::milliseconds timeout,
                                                         std::size_t max_answer) {
    while (self->busy_ && self->socket_.is_open()) co_await wait_turn(self);
    if (!self->socket_.is_open()) co_return std::nullopt;
    const Exchange answer = co_await exchange(self, request + "\n", timeout, max_answer);
    self->finish_turn();
    if (answer.outcome != StatsReply::Outcome::answered) co_return std::nullopt;
    co_return answer.line;
}

awaitable<void> WorkerControl::wait_turn(std::shared_ptr<WorkerControl> self) {
    auto waiter = std::make_shared<asio::steady_timer>(self->socket_.get_executor(),
                                                       asio::steady_timer::time_point::max());
    self->waiters_.push_back(waiter);
    error_code ignored;
    co_await waiter->async_wait(with_error(ignored));
}

void WorkerControl::finish_turn() {
    for (auto& waiter : std::exchange(waiters_, {})) waiter->cancel();
}

// One request and its answer, with the socket to ourselves (busy_) and
// within `timeout`; the answers earlier requests are owed are read first.
awaitable<WorkerControl::Exchange> WorkerControl::exchange(std::shared_ptr<WorkerControl> self,
                                                           std::string_view request,
                                                           std::chrono::milliseconds timeout,
                                                           std::size_t max_answer) {
    using Outcome = StatsReply::Outcome;
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

    Exchange answer{Outcome::no_answer, {}};
    error_code error;
    // What earlier requests are owed first; whatever was half read stays in
    // buffer_ for the next try.
    while (!error && self->owed_ > 0) co_await read_answer(self, error, kMaxSessionsAnswer);
    if (!error) {
        const Sent sent = self->send_request(request);
        if (sent == Sent::broken) answer.outcome = Outcome::unavailable;
        if (sent == Sent::ok) {
            std::string line = co_await read_answer(self, error, max_answer);
            if (!error) answer = {Outcome::answered, std::move(line)};
        }
    }
    ++self->generation_;
    self->timer_.cancel();
    self->busy_ = false;
    if (error && !(error == asio::error::operation_aborted && self->socket_.is_open())) {
        self->close();  // broken, or closed meanwhile: the worker is going away
        answer.outcome = Outcome::unavailable;
    }
    co_return answer;
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
