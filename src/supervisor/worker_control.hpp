// ftpproxyd's side of a worker's control socketpair (--control-fd): one
// request line, one JSON line back (src/proxy/control_channel.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "supervisor/asio.hpp"

namespace supervisor {

struct WorkerStats {
    std::int64_t sessions = 0;
    std::int64_t accepted = 0;
    // The worker's counters for /metrics (src/proxy/worker_metrics.hpp), an
    // object whose leaves are numbers; null from a worker without them.
    nlohmann::json metrics;
    bool operator==(const WorkerStats&) const = default;
};

// The longest answer to `sessions`: 20000 sessions (-m's limit) of about
// 300 bytes each, with room.
inline constexpr std::size_t kMaxSessionsAnswer = 16u << 20;

// {"sessions":N,"accepted":N,"metrics":{...}}; nothing when the line is not that.
std::optional<WorkerStats> parse_worker_stats(std::string_view line);

// What a stats query got.
struct StatsReply {
    enum class Outcome {
        answered,     // `stats` holds the answer
        no_answer,    // the worker did not answer in time: it is not serving
        unavailable,  // no channel (closed, broken), or another query is under way
    };
    Outcome outcome = Outcome::unavailable;
    WorkerStats stats;
};

class WorkerControl : public std::enable_shared_from_this<WorkerControl> {
  public:
    WorkerControl(asio::io_context& io, common::UniqueFd fd);

    // One request at a time: a caller that comes while a query is under
    // way waits for it and gets its answer (status and the liveness watch
    // ask side by side). A worker
    // that does not answer within `timeout` gets `no_answer`, and the
    // channel stays open: the worker answers every request in order, so the
    // answers it owes (a stats query that timed out, a drain) are read and
    // set aside before the next query's own. A stopped (SIGSTOP) or stuck
    // worker therefore shows as such, and as itself again once it answers.
    static awaitable<StatsReply> query_stats(std::shared_ptr<WorkerControl> self,
                                             std::chrono::milliseconds timeout);
    // Any other request with a one-line answer (`sessions`, `kill ID`), in
    // turn with the stats queries; nothing when the worker did not answer
    // within `timeout`, or the answer is longer than `max_answer`.
    static awaitable<std::optional<std::string>> ask(std::shared_ptr<WorkerControl> self,
                                                     std::string request,
                                                     std::chrono::milliseconds timeout,
                                                     std::size_t max_answer);
    // Asks the worker to drain. Unlike SIGUSR1, this cannot arrive before
    // the worker is ready for it: the request waits in the socket until the
    // worker reads it. False when the channel is closed or full (a worker
    // that has not read it for long).
    bool send_drain();
    // Reverse mode: new sessions go to `server` (the answer is set aside
    // like a drain's; the worker logs a refusal). False as send_drain().
    bool send_backend(const asio::ip::tcp::endpoint& server);
    void close();
    // The counters of the last answered query (null before the first): what
    // the worker had counted at most one liveness interval ago, also once
    // it has exited.
    const nlohmann::json& last_metrics() const { return last_metrics_; }

  private:
    enum class Sent { ok, full, broken };
    // Requests are a few bytes: one non-blocking send, never a partial one,
    // so a query's request and a drain never interleave.
    Sent send_request(std::string_view request);
    static awaitable<std::string> read_answer(std::shared_ptr<WorkerControl> self,
                                              error_code& error, std::size_t max_answer);
    struct Exchange {
        StatsReply::Outcome outcome;
        std::string line;
    };
    static awaitable<Exchange> exchange(std::shared_ptr<WorkerControl> self,
                                        std::string_view request, std::chrono::milliseconds timeout,
                                        std::size_t max_answer);
    static awaitable<void> wait_turn(std::shared_ptr<WorkerControl> self);
    void finish_turn();

    asio::local::stream_protocol::socket socket_;
    asio::steady_timer timer_;
    std::string buffer_;
    std::uint64_t generation_ = 0;  // tells a stale timeout from the current one
    int owed_ = 0;                  // answers the worker still owes us, in order
    bool busy_ = false;
    bool asking_stats_ = false;  // the exchange under way is a stats query
    // Callers waiting for the query under way; cancelled when it ends.
    std::vector<std::shared_ptr<asio::steady_timer>> waiters_;
    StatsReply last_reply_;
    nlohmann::json last_metrics_;
};

// Every worker at once, each within `timeout`, so that the wait is at most
// one timeout however many workers are stuck. By pid.
using Replies = std::map<pid_t, StatsReply>;
awaitable<Replies> ask_workers(
    asio::io_context& io, std::vector<std::pair<pid_t, std::shared_ptr<WorkerControl>>> controls,
    std::chrono::milliseconds timeout);

}  // namespace supervisor
