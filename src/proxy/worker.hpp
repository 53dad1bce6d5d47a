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
    // Reverse mode: new sessions go to `address`:`port` (an IP literal of
    // -a's family, if -a is set); running sessions keep their server.
    // Returns "" when done, else why not.
    std::string use_backend(const std::string& address, const std::string& port);
    // {"sessions":N,"accepted":N}: what ftpproxyd's status shows.
    std::string stats_json() const;
    // {"sessions":[Session::report(), ...]} by id, for `ftpproxyctl sessions`.
    std::string sessions_json() const;
    // `ftpproxyctl kill`: the session ends with a 421. "" or why not.
    std::string kill(const std::string& id);
    // Called once when the worker has nothing left to do (stopped or drained).
    void on_finished(std::function<void()> callback) { on_finished_ = std::move(callback); }

  private:
    awaitable<void> accept_loop();
    // A connection taken off the listener: a session, or a 421 when over the
    // limit or stopping.
    void serve(tcp::socket socket);
    void reply_and_close(tcp::socket socket, std::string line);
    void on_signal(int signal);
    void stop_accepting();
    void session_ended(std::uint64_t id);
    void release_memory_soon();
    void finished();
    // Asked to go, and nothing left: no session, no accept in progress.
    bool idle() const { return (draining_ || stopping_) && !accepting_ && sessions_.empty(); }

    asio::io_context& io_;
    Settings settings_;
    tcp::acceptor listener_;
    int max_sessions_;
    asio::signal_set signals_;
    asio::steady_timer retry_timer_;  // back-off after EMFILE and similar
    asio::steady_timer grace_timer_;  // bounds the shutdown
    asio::steady_timer trim_timer_;   // release_memory_soon()
    bool trim_armed_ = false;
    std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
    std::uint64_t next_id_ = 1;
    std::uint64_t accept_failures_ = 0;  // in a row, for the rate-limited log
    std::chrono::steady_clock::time_point last_accept_log_;
    std::function<void()> on_finished_;
    bool accepting_ = false;  // accept_loop() runs; it may hold a connection to serve
    bool draining_ = false;
    bool stopping_ = false;
};

}  // namespace proxy
