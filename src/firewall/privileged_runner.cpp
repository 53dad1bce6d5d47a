#include "firewall/privileged_runner.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/seq_packet_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>

#include "common/unique_fd.hpp"
#include "firewall/firewall.hpp"
#include "firewall/pfctl_wire.hpp"
#include "firewall/privileged_helper.hpp"

namespace firewall {
namespace {

namespace asio = boost::asio;
using SeqPacket = asio::generic::seq_packet_protocol;

class DirectRunner : public PfctlRunner {
  public:
    explicit DirectRunner(ProgramRunner program) : program_(std::move(program)) {}
    ProgramResult run_now(const std::vector<std::string>& argv, const std::string& input) override {
        return program_(argv, input);
    }
    void run(std::vector<std::string> argv, std::string input, Done done) override {
        ProgramResult result;
        try {
            result = program_(argv, input);
        } catch (const Error& e) {
            result = {-1, e.what()};
        }
        done(std::move(result));
    }

  private:
    ProgramRunner program_;
};

// The worker's end of the helper's socket. Requests carry an id; the
// helper answers them in the order they finish. At most
// kMaxConcurrentPfctl are sent; the rest wait here (a few per session at
// most: the pf backend runs one at a time per session).
class HelperRunner : public PfctlRunner, public std::enable_shared_from_this<HelperRunner> {
  public:
    HelperRunner(asio::io_context& io, common::UniqueFd socket, std::chrono::milliseconds timeout)
        : io_(io),
          socket_(io, SeqPacket(AF_UNIX, 0), socket.release()),
          buffer_(wire::kMaxMessage, '\0'),
          reply_limit_(timeout + kHelperGrace) {}

    void run(std::vector<std::string> argv, std::string input, Done done) override {
        if (broken_) {
            done({-1, "pfctl helper is gone"});
            return;
        }
        const std::uint32_t id = ++last_id_;
        std::string message = wire::encode(wire::Request{id, std::move(argv), std::move(input)});
        if (message.size() > wire::kMaxMessage) {
            done({-1, "pfctl request too large"});
            return;
        }
        queued_.push_back({id, std::move(message), std::move(done)});
        send_queued();
    }

    ProgramResult run_now(const std::vector<std::string>& argv, const std::string& input) override;

  private:
    struct Queued {
        std::uint32_t id;
        std::string message;
        Done done;
    };

    struct InFlight {
        Done done;
        std::unique_ptr<asio::steady_timer> limit;
    };

    void send_queued();
    void read_replies();
    void watch(std::uint32_t id, InFlight& run);
    std::string limit_text() const { return std::to_string(reply_limit_.count()) + " ms"; }
    void answer(std::uint32_t id, ProgramResult result);
    void fail_all(const std::string& why);
    // Blocking use of the socket at start and exit (no io_context running).
    void wait_ready(short events, std::chrono::steady_clock::time_point deadline);
    wire::Reply receive_now(std::chrono::steady_clock::time_point deadline);

    asio::io_context& io_;
    SeqPacket::socket socket_;
    std::string buffer_;
    std::chrono::milliseconds reply_limit_;
    std::uint32_t last_id_ = 0;
    std::deque<Queued> queued_;
    std::map<std::uint32_t, InFlight> in_flight_;
    bool reading_ = false;
    bool broken_ = false;
};

void HelperRunner::send_queued() {
    while (!broken_ && !queued_.empty() && in_flight_.size() < kMaxConcurrentPfctl) {
        auto& next = queued_.front();
        const ssize_t sent = ::send(socket_.native_handle(), next.message.data(),
                                    next.message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        // Full: the next reply makes room (at least one is in flight, or
        // the socket buffer would be empty).
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !in_flight_.empty()) break;
        if (sent < 0) {
            fail_all(std::string("pfctl helper is gone: ") + std::strerror(errno));
            return;
        }
        auto [it, added] = in_flight_.emplace(next.id, InFlight{std::move(next.done), nullptr});
        if (added) watch(next.id, it->second);
        queued_.pop_front();
    }
    read_replies();
}

// Reads only while a reply is due: a pending read would keep the worker's
// io_context from ending.
void HelperRunner::read_replies() {
    if (reading_ || in_flight_.empty()) return;
    reading_ = true;
    socket_.async_wait(SeqPacket::socket::wait_read, [self = shared_from_this()](
                                                         boost::system::error_code error) {
        self->reading_ = false;
        if (error == asio::error::operation_aborted) return;
        const ssize_t n = error ? -1
                                : ::recv(self->socket_.native_handle(), self->buffer_.data(),
                                         self->buffer_.size(), MSG_DONTWAIT);
        if (n < 0 && !error && (errno == EAGAIN || errno == EINTR)) {
            self->read_replies();
            return;
        }
        if (n <= 0) {
            self->fail_all("pfctl helper is gone");
            return;
        }
        if (auto reply = wire::decode_reply({self->buffer_.data(), static_cast<std::size_t>(n)}))
            self->answer(reply->id, std::move(reply->result));
        self->send_queued();
    });
}

// The helper kills a hung pfctl itself; this catches a helper that cannot
// answer (stopped, starved): the session's firewall step must end anyway.
// A reply that comes after is for an id no longer in flight, and dropped.
void HelperRunner::watch(std::uint32_t id, InFlight& run) {
    run.limit = std::make_unique<asio::steady_timer>(io_, reply_limit_);
    run.limit->async_wait([weak = weak_from_this(), id](boost::system::error_code error) {
        auto self = weak.lock();
        if (error || !self) return;
        self->answer(id, {-1, "pfctl helper did not answer within " + self->limit_text()});
        // Nothing due any more: stop reading, or the pending read would
        // keep the worker's io_context from ending (see read_replies()).
        if (self->in_flight_.empty() && self->reading_) self->socket_.cancel();
        self->send_queued();
    });
}

void HelperRunner::answer(std::uint32_t id, ProgramResult result) {
    auto it = in_flight_.find(id);
    if (it == in_flight_.end()) return;
    InFlight run = std::move(it->second);
    in_flight_.erase(it);
    if (run.limit) run.limit->cancel();
    run.done(std::move(result));
}

void HelperRunner::fail_all(const std::string& why) {
    broken_ = true;
    auto in_flight = std::move(in_flight_);
    auto queued = std::move(queued_);
    in_flight_.clear();
    queued_.clear();
    for (auto& [id, run] : in_flight) {
        if (run.limit) run.limit->cancel();
        run.done({-1, why});
    }
    for (auto& waiting : queued) waiting.done({-1, why});
}

void HelperRunner::wait_ready(short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw Error("pfctl helper did not answer within " + limit_text());
        pollfd fd{socket_.native_handle(), events, 0};
        const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
        if (ready > 0) return;
        if (ready < 0 && errno != EINTR)
            throw Error(std::string("pfctl helper: poll: ") + std::strerror(errno));
    }
}

wire::Reply HelperRunner::receive_now(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        wait_ready(POLLIN, deadline);
        const ssize_t n =
            ::recv(socket_.native_handle(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
            broken_ = true;
            throw Error("pfctl helper is gone");
        }
        auto reply = wire::decode_reply({buffer_.data(), static_cast<std::size_t>(n)});
        if (!reply) throw Error("pfctl helper sent a malformed reply");
        return *reply;
    }
}

// Runs still under way are waited for first (their callbacks belong to an
// io_context that no longer runs, and are dropped): an anchor emptied at
// exit must not be filled again by a load that finishes after.
ProgramResult HelperRunner::run_now(const std::vector<std::string>& argv,
                                    const std::string& input) {
    if (broken_) throw Error("pfctl helper is gone");
    // At start and exit the worker waits for pfctl, as long as it would
    // while serving.
    const auto deadline = std::chrono::steady_clock::now() + reply_limit_;
    queued_.clear();
    while (!in_flight_.empty()) in_flight_.erase(receive_now(deadline).id);
    const std::uint32_t id = ++last_id_;
    const std::string message = wire::encode(wire::Request{id, argv, input});
    if (message.size() > wire::kMaxMessage) throw Error("pfctl request too large");
    wait_ready(POLLOUT, deadline);
    if (::send(socket_.native_handle(), message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        broken_ = true;
        throw Error(std::string("pfctl helper is gone: ") + std::strerror(errno));
    }
    for (;;) {
        wire::Reply reply = receive_now(deadline);
        if (reply.id == id) return std::move(reply.result);
    }
}

}  // namespace

ProgramResult run_pfctl(const std::vector<std::string>& argv, const std::string& input) {
    return run_program(argv, input, kPfctlTimeout);
}

std::shared_ptr<PfctlRunner> make_direct_runner(ProgramRunner program) {
    return std::make_shared<DirectRunner>(std::move(program));
}

std::shared_ptr<PfctlRunner> start_privileged_runner(const std::string& pfctl, asio::io_context& io,
                                                     std::chrono::milliseconds timeout) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw Error(std::string("socketpair: ") + std::strerror(errno));
    common::UniqueFd ours(pair[0]), theirs(pair[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Keep only stdio and the socket: the helper must not hold the
        // worker's listening socket or anything else open.
        const int socket = ::dup2(theirs.get(), 3);
        if (socket < 0) ::_exit(1);
        ::closefrom(4);
        serve_pfctl_requests(socket, pfctl, timeout);
    }
    theirs.reset();
    return std::make_shared<HelperRunner>(io, std::move(ours), timeout);
}

}  // namespace firewall
