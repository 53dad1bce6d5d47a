#include "proxy/kernel_channel.hpp"

#include <spdlog/spdlog.h>

#include "proxy/worker_metrics.hpp"

namespace proxy {

std::shared_ptr<KernelChannel> KernelChannel::create(asio::io_context& io, std::string log_prefix,
                                                     std::shared_ptr<SessionActivity> activity,
                                                     firewall::ConntrackFlows& flows,
                                                     tcp::acceptor reservation,
                                                     firewall::FlowKey flow, bool client_originates,
                                                     std::chrono::seconds setup_timeout) {
    return std::make_shared<KernelChannel>(io, std::move(log_prefix), std::move(activity), flows,
                                           std::move(reservation), std::move(flow),
                                           client_originates, setup_timeout);
}

KernelChannel::KernelChannel(asio::io_context& io, std::string log_prefix,
                             std::shared_ptr<SessionActivity> activity,
                             firewall::ConntrackFlows& flows, tcp::acceptor reservation,
                             firewall::FlowKey flow, bool client_originates,
                             std::chrono::seconds setup_timeout)
    : io_(io),
      log_prefix_(std::move(log_prefix)),
      activity_(std::move(activity)),
      flows_(flows),
      reservation_(std::move(reservation)),
      flow_(std::move(flow)),
      client_originates_(client_originates),
      setup_timeout_(setup_timeout),
      deadline_(io) {}

void KernelChannel::start() {
    auto self = shared_from_this();
    watch_ =
        flows_.watch(flow_, [self](const firewall::FlowEvent& event) { self->on_flow(event); });
    deadline_.expires_after(setup_timeout_);
    follow_deadline();
}

void KernelChannel::start_transfer(std::string command, bool download) {
    (void)download;  // the kernel passes both directions alike
    command_ = std::move(command);
}

void KernelChannel::on_flow(const firewall::FlowEvent& event) {
    if (event.kind == firewall::FlowEvent::Kind::Started) {
        if (state_ != State::Waiting) return;
        state_ = State::Relaying;
        from_port_ = event.from_port;
        started_ = std::chrono::steady_clock::now();
        // The armed element is gone already (the kernel deleted it with the
        // first packet); the translations go now.
        if (on_accepted_) std::exchange(on_accepted_, nullptr)();
        // Under way: only the end is awaited now, however long it takes,
        // unless the session lets go first (close()).
        deadline_.cancel();
        return;
    }
    watch_ = 0;  // an Ended watch is gone by itself
    if (state_ == State::Waiting) {
        // The entry went before the worker saw it start (lost events).
        started_ = std::chrono::steady_clock::now();
    }
    finish(event.counters, event.ending);
}

// The coroutine starts later, from the io_context: the lambda's copy of
// `self` keeps the channel alive until then (the session may have dropped
// it, and the end of the connection released the watch's).
void KernelChannel::follow_deadline() {
    asio::co_spawn(
        io_, [self = shared_from_this()] { return self->watch_deadline(); }, asio::detached);
}

// Before the connection: the setup timeout. After close() of a connection
// under way: the bound on following it. A timer's cancel() reaches only a
// wait already begun, so the state is looked at before each wait too: this
// coroutine may first run after the event that made it pointless (and must
// not then keep the worker's io_context busy for a minute).
awaitable<void> KernelChannel::watch_deadline() {
    auto self = shared_from_this();
    for (;;) {
        if (state_ == State::Finished || (state_ == State::Relaying && !closed_)) co_return;
        error_code error;
        co_await deadline_.async_wait(with_error(error));
        if (error) continue;  // cancelled or re-armed: look again
        if (state_ == State::Waiting) {
            spdlog::info("{} data connection not used within {} s, closed", log_prefix_,
                         setup_timeout_.count());
            close();
            co_return;
        }
        if (state_ != State::Relaying) co_return;
        // Still under way long after the session let it go.
        const auto counters = flows_.counters(flow_, from_port_);
        stop_following();
        finish(counters, "still open, left to the kernel");
        co_return;
    }
}

void KernelChannel::count_activity() {
    if (state_ != State::Relaying) return;
    const auto counters = flows_.counters(flow_, from_port_);
    const std::uint64_t total = counters.original_bytes + counters.reply_bytes;
    if (total > counted_) activity_->data_bytes += total - std::exchange(counted_, total);
}

void KernelChannel::close(std::string_view reason) {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    reservation_.close(ignored);
    if (state_ == State::Waiting) {
        // Never used: nothing to log (as a relayed channel never connected).
        stop_following();
        state_ = State::Finished;
        deadline_.cancel();
        return;
    }
    if (state_ != State::Relaying) return;
    // The session is done with it, the kernel is not: follow it to its end,
    // within a bound. Its reply came (the usual case: the last FIN is on its
    // way) or the session ended, which does not end a connection the
    // kernel forwards.
    if (!server_answered_ && end_reason_.empty()) end_reason_ = reason;
    deadline_.expires_after(kKernelFollowAfterClose);
    follow_deadline();
}

void KernelChannel::fail(std::string_view reason) {
    end_reason_ = reason;
    close(reason);
}

void KernelChannel::stop_following() noexcept {
    if (watch_) flows_.unwatch(std::exchange(watch_, 0));
}

void KernelChannel::finish(const firewall::FlowCounters& counters, std::string_view ending) {
    if (state_ == State::Finished) return;
    state_ = State::Finished;
    error_code ignored;
    reservation_.close(ignored);
    deadline_.cancel();
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    // Conntrack's original direction is from the connection's originator.
    const std::uint64_t to_client =
        client_originates_ ? counters.reply_bytes : counters.original_bytes;
    const std::uint64_t to_server =
        client_originates_ ? counters.original_bytes : counters.reply_bytes;
    const std::uint64_t packets = counters.original_packets + counters.reply_packets;
    if (to_client + to_server > counted_)
        activity_->data_bytes +=
            to_client + to_server - std::exchange(counted_, to_client + to_server);
    std::string outcome = end_reason_;
    if (outcome.empty()) outcome = ending == "closed" ? "completed" : std::string(ending);
    const std::string counted =
        counters.known ? fmt::format("conntrack counted {} IP packets", packets)
                       : std::string(
                             "conntrack had no counters: net.netfilter.nf_conntrack_acct "
                             "was off or the events were lost");
    spdlog::info(
        "{} data {}: {}, {} bytes to client, {} bytes to server, {:.3f} s, data path kernel "
        "(connection {}, {})",
        log_prefix_, outcome, command_.empty() ? "(no command)" : command_, to_client, to_server,
        seconds, ending, counted);
    metrics().data_finished(to_client, to_server, seconds, !command_.empty());
}

// The bytes as conntrack counts them now (count_activity() asks it).
TransferProgress KernelChannel::progress() {
    if (state_ == State::Relaying) count_activity();
    TransferProgress now{command_, counted_, 0};
    if (state_ == State::Relaying)
        now.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    return now;
}

}  // namespace proxy
