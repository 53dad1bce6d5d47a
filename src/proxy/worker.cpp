#include "proxy/worker.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <nlohmann/json.hpp>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common/net_address.hpp"
#include "common/printable.hpp"
#include "proxy/descriptor_limit.hpp"
#include "proxy/net.hpp"
#include "proxy/session.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {
namespace {

// After an accept error such as EMFILE the listener stays readable; retrying
// at once would spin. Wait this long, then try again.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr std::chrono::seconds kAcceptLogInterval{10};
// SIGTERM: sessions get a 421 and this long to flush it before exit.
constexpr std::chrono::seconds kShutdownGrace{5};
// How long the worker must stay without sessions before it gives free heap
// pages back (see release_memory_soon): not after every session of a worker
// that serves one at a time.
constexpr std::chrono::seconds kIdleTrimDelay{1};
// Sockets a session holds at most at once: client and server control, the
// data connection's two ends, and a data listener.
constexpr int kSocketsPerSession = 5;
// The warm-up below leaves kDescriptorsBeyondSessions (descriptor_limit.hpp)
// to the rest of the worker.

// Asio's reactor keeps the state of every socket it ever registered (168
// bytes) in a pool for reuse and frees none until the io_context goes. Made
// during a peak, those states end up scattered over the heap, one or two in
// each page that sessions used, and keep those pages resident for ever
// (bench/soak.py: 3 200 of them held 6.5 MiB after 1 000 sessions, with
// 775 KiB of the heap in use). Made here, at start, in one run, they sit
// together; the pool then hands them out again at every peak up to
// -m sessions and the sessions' pages can be given back (malloc_trim).
// Costs a socket() and close() per state, once: a few milliseconds.
void warm_up_reactor_pool(asio::io_context& io, int max_sessions) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur <= kDescriptorsBeyondSessions)
        return;
    const auto wanted = static_cast<rlim_t>(max_sessions) * kSocketsPerSession;
    const auto count = std::min(wanted, limit.rlim_cur - kDescriptorsBeyondSessions);
    std::vector<tcp::socket> sockets;
    sockets.reserve(count);
    for (rlim_t i = 0; i < count; ++i) {
        error_code error;
        tcp::socket socket(io);
        socket.open(tcp::v4(), error);
        if (error) break;  // out of descriptors sooner than the limit says: fine
        sockets.push_back(std::move(socket));
    }
}  // all closed here: their states wait in the pool

}  // namespace

Worker::Worker(asio::io_context& io, Settings settings, tcp::acceptor listener, int max_sessions)
    : io_(io),
      settings_(std::move(settings)),
      listener_(std::move(listener)),
      max_sessions_(max_sessions),
      signals_(io, SIGTERM, SIGINT, SIGUSR1),
      retry_timer_(io),
      grace_timer_(io),
      trim_timer_(io) {
    warm_up_reactor_pool(io, max_sessions);
}

void Worker::start() {
    signals_.async_wait([this](error_code error, int signal) {
        if (!error) on_signal(signal);
    });
    accepting_ = true;  // from now: a drain that comes first still waits for the loop
    asio::co_spawn(io_, accept_loop(), asio::detached);
}

// A connection this loop has taken off the listening socket is served,
// whatever happened since: with a listening socket shared between an old and
// a new worker, an accept that completed just before a drain (or a stop) is a
// client nobody else will serve. Only the listener stops.
awaitable<void> Worker::accept_loop() {
    while (!draining_ && !stopping_) {
        error_code error;
        tcp::socket socket = co_await listener_.async_accept(with_error(error));
        if (error == asio::error::operation_aborted) break;
        if (error) {
            if (draining_ || stopping_) break;
            // Out of descriptors the failure repeats ten times a second: the
            // log says it at once, then at most every kAcceptLogInterval.
            const auto now = std::chrono::steady_clock::now();
            if (accept_failures_++ == 0 || now - last_accept_log_ >= kAcceptLogInterval) {
                spdlog::error("accept failed: {}; retrying every {} ms ({} failure{} so far)",
                              error.message(), kAcceptRetryDelay.count(), accept_failures_,
                              accept_failures_ == 1 ? "" : "s");
                last_accept_log_ = now;
            }
            retry_timer_.expires_after(kAcceptRetryDelay);
            co_await retry_timer_.async_wait(with_error(error));
            continue;
        }
        if (accept_failures_ > 0) {
            spdlog::warn("accepting again after {} failed accept{}", accept_failures_,
                         accept_failures_ == 1 ? "" : "s");
            accept_failures_ = 0;
        }
        serve(std::move(socket));
    }
    accepting_ = false;
    if (idle()) finished();
}

void Worker::serve(tcp::socket socket) {
    if (stopping_) {
        metrics().refused(SessionRefusal::ShuttingDown);
        reply_and_close(std::move(socket), "421 Proxy shutting down.\r\n");
        return;
    }
    if (static_cast<int>(sessions_.size()) >= max_sessions_) {
        error_code ignored;
        metrics().refused(SessionRefusal::Limit);
        spdlog::warn("session limit {} reached: refusing {}", max_sessions_,
                     format_endpoint(socket.remote_endpoint(ignored)));
        reply_and_close(std::move(socket), "421 Too many sessions (limit " +
                                               std::to_string(max_sessions_) +
                                               "), try again later.\r\n");
        return;
    }
    const auto id = next_id_++;
    ++metrics().sessions;
    auto session = std::make_shared<Session>(io_, settings_, std::move(socket), id,
                                             [this, id] { session_ended(id); });
    sessions_.emplace(id, session);
    session->start();
}

// A one-line answer and close, without holding up the accept loop.
void Worker::reply_and_close(tcp::socket socket, std::string line) {
    auto connection = std::make_shared<tcp::socket>(std::move(socket));
    auto reply = std::make_shared<std::string>(std::move(line));
    asio::async_write(*connection, asio::buffer(*reply),
                      [connection, reply](error_code, std::size_t) {
                          error_code ignored;
                          connection->shutdown(tcp::socket::shutdown_both, ignored);
                          connection->close(ignored);
                      });
}

void Worker::on_signal(int signal) {
    if (signal == SIGUSR1) {
        drain();
        if (!idle())
            signals_.async_wait([this](error_code error, int next) {
                if (!error) on_signal(next);
            });
        return;
    }
    spdlog::info("signal {}: closing {} session(s) and exiting", signal, sessions_.size());
    stopping_ = true;
    stop_accepting();
    auto sessions = sessions_;  // stop() calls back into session_ended()
    for (auto& [id, weak] : sessions)
        if (auto session = weak.lock()) session->stop("421 Proxy shutting down.");
    if (idle()) {
        finished();
        return;
    }
    // Sessions normally finish at once; a client that does not read must not
    // keep the process alive.
    grace_timer_.expires_after(kShutdownGrace);
    grace_timer_.async_wait([this](error_code error) {
        if (!error) io_.stop();
    });
}

void Worker::drain() {
    if (draining_ || stopping_) return;
    spdlog::info("draining {} session(s), accepting no new ones", sessions_.size());
    draining_ = true;
    stop_accepting();
    if (idle()) finished();
}

std::string Worker::use_backend(const std::string& address, const std::string& port) {
    if (settings_.forward) return "not a reverse proxy";
    const auto ip = common::parse_ip_address(address);
    const auto number = common::parse_port(port);
    if (!ip || !number)
        return "not an IP address and port: " + common::printable(address + " " + port);
    if (settings_.source_address && settings_.source_address->is_v4() != ip->is_v4())
        return "-a " + settings_.source_address->to_string() + " is of another family than " +
               ip->to_string();
    const tcp::endpoint next(*ip, *number);
    if (next == settings_.server) return "";
    spdlog::info("new sessions go to {} (was {})", format_endpoint(next),
                 format_endpoint(settings_.server));
    settings_.server = next;
    return "";
}

// The counters (worker_metrics.hpp) ride along for ftpproxyd's /metrics.
std::string Worker::stats_json() const {
    return nlohmann::json{
        {"sessions", sessions_.size()}, {"accepted", next_id_ - 1}, {"metrics", metrics().json()}}
        .dump();
}

std::string Worker::sessions_json() const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, weak] : sessions_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    nlohmann::json list = nlohmann::json::array();
    for (const std::uint64_t id : ids)
        if (auto session = sessions_.at(id).lock()) list.push_back(session->report());
    return nlohmann::json{{"sessions", std::move(list)}}.dump();
}

std::string Worker::kill(const std::string& id) {
    const bool digits =
        !id.empty() && id.size() <= 19 && id.find_first_not_of("0123456789") == std::string::npos;
    const auto found = digits ? sessions_.find(std::stoull(id)) : sessions_.end();
    auto session = found == sessions_.end() ? nullptr : found->second.lock();
    if (!session) return "no session " + common::printable(id.substr(0, 24));
    spdlog::info("#{} closed by the administrator (ftpproxyctl kill)", found->first);
    session->stop("421 Session closed by the administrator.", "closed by the administrator");
    return "";
}

// Nothing left to serve: release what keeps io_context running.
void Worker::finished() {
    signals_.cancel();
    grace_timer_.cancel();
    trim_timer_.cancel();
    if (on_finished_) std::exchange(on_finished_, nullptr)();
}

// The accept in progress ends with operation_aborted, or with the socket it
// already took (which accept_loop() serves). release() rather than close():
// close() leaves the socket in this process's epoll set, since ftpproxyd and
// the next worker keep it open, and every later connection would still wake
// this worker up.
void Worker::stop_accepting() {
    error_code error;
    if (listener_.is_open()) {
        const int fd = listener_.release(error);
        if (!error) ::close(fd);
    }
    if (error) listener_.close(error);
    retry_timer_.cancel();
}

void Worker::session_ended(std::uint64_t id) {
    sessions_.erase(id);
    if (idle()) {
        if (draining_) spdlog::info("drained: last session ended");
        finished();
        return;
    }
    if (sessions_.empty()) release_memory_soon();
}

// After a busy period glibc keeps the heap's free pages: long-lived small
// objects allocated at the peak (Asio keeps every closed socket's reactor
// state in a pool for reuse) sit between them, so the heap's top cannot
// shrink by itself. Measured with 1 000 sessions (bench/soak.py): RSS stayed
// 12 MiB above the idle baseline; malloc_trim() returns the free pages inside
// the heap too. Once the worker has had no session for a second.
void Worker::release_memory_soon() {
#ifdef __GLIBC__
    if (trim_armed_) return;
    trim_armed_ = true;
    trim_timer_.expires_after(kIdleTrimDelay);
    trim_timer_.async_wait([this](error_code error) {
        trim_armed_ = false;
        if (error || !sessions_.empty()) return;
        ::malloc_trim(0);
    });
#endif
}

}  // namespace proxy
