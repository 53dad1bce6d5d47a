#include "proxy/control_channel.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace proxy {
namespace {

// Requests are single words; anything longer is not from our supervisor.
constexpr std::size_t kMaxRequest = 256;

}  // namespace

ControlChannel::ControlChannel(asio::io_context& io, int fd, Handlers handlers)
    : socket_(io), handlers_(std::move(handlers)) {
    socket_.assign(asio::local::stream_protocol(), fd);
}

void ControlChannel::start() {
    asio::co_spawn(socket_.get_executor(), serve(), asio::detached);
}

void ControlChannel::close() {
    error_code ignored;
    socket_.close(ignored);
}

std::string ControlChannel::answer(const std::string& request) {
    if (request == "stats") return handlers_.stats_json();
    if (request == "sessions") return handlers_.sessions_json();
    if (request.starts_with("kill ")) {
        const std::string error = handlers_.kill(request.substr(5));
        if (error.empty()) return R"({"ok":true})";
        return nlohmann::json{{"error", error}}.dump();
    }
    if (request == "drain") {
        handlers_.drain();
        return R"({"ok":true})";
    }
    if (request.starts_with("backend ")) {
        const auto space = request.find(' ', 8);
        const std::string error =
            space == std::string::npos
                ? "expected: backend ADDRESS PORT"
                : handlers_.backend(request.substr(8, space - 8), request.substr(space + 1));
        if (error.empty()) return R"({"ok":true})";
        return nlohmann::json{{"error", error}}.dump();
    }
    return R"({"error":"unknown request"})";
}

awaitable<void> ControlChannel::serve() {
    std::string buffer;
    for (;;) {
        error_code error;
        std::size_t n = co_await asio::async_read_until(
            socket_, asio::dynamic_buffer(buffer, kMaxRequest), '\n', with_error(error));
        if (error) {
            // The supervisor went away (or closed us): keep serving sessions.
            if (error != asio::error::operation_aborted)
                spdlog::info("control channel closed: {}", error.message());
            co_return;
        }
        std::string request = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        if (!request.empty() && request.back() == '\r') request.pop_back();
        std::string reply = answer(request) + "\n";
        co_await asio::async_write(socket_, asio::buffer(reply), with_error(error));
        if (error) co_return;
    }
}

}  // namespace proxy
