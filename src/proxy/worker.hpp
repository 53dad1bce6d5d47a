// The worker: accepts sessions on one listening socket, enforces -m, and
// handles the signals that stop or drain it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "proxy/asio.hpp"
#include "proxy/settings.hpp"

namespace proxy {

class Session;

class Worker {
  public:
    Worker(asio::io_context& io, Settings settings, tcp::acceptor listener, int max_sessions);
    // Starts accepting and listening for signals; io.run() returns when the
    // worker has stopped or drained.
    void start();
    // Graceful drain (SIGUSR1 or the supervisor): stop accepting, exit after
    // the last session.
    void drain();
    // {"sessions":N,"accepted":N,"refused":N,"draining":false}
    std::string stats_json() const;
    // Called once when the worker has nothing left to do (stopped or drained).
    void on_finished(std::function<void()> callback) { on_finished_ = std::move(callback); }

  private:
    awaitable<void> accept_loop();
    void refuse(tcp::socket socket);
    void on_signal(int signal);
    void stop_accepting();
    void session_ended(std::uint64_t id);
    void finished();

    asio::io_context& io_;
    Settings settings_;
    tcp::acceptor listener_;
    int max_sessions_;
    asio::signal_set signals_;
    asio::steady_timer retry_timer_;  // back-off after EMFILE and similar
    asio::steady_timer grace_timer_;  // bounds the shutdown
    std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
    std::uint64_t next_id_ = 1;
    std::uint64_t refused_ = 0;
    std::uint64_t accept_failures_ = 0;  // in a row, for the rate-limited log
    std::chrono::steady_clock::time_point last_accept_log_;
    std::function<void()> on_finished_;
    bool draining_ = false;
    bool stopping_ = false;
};

}  // namespace proxy
