// ftpproxyd's side of a worker's control socketpair (--control-fd): one
// request line, one JSON line back (src/proxy/control_channel.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"
#include "supervisor/asio.hpp"

namespace supervisor {

struct WorkerStats {
    std::int64_t sessions = 0;
    std::int64_t accepted = 0;
    bool operator==(const WorkerStats&) const = default;
};

// {"sessions":N,"accepted":N,...}; nothing when the line is not that.
std::optional<WorkerStats> parse_worker_stats(std::string_view line);

class WorkerControl : public std::enable_shared_from_this<WorkerControl> {
  public:
    WorkerControl(asio::io_context& io, common::UniqueFd fd);

    // Answers other than stats (a drain's) are skipped.
    // One request at a time: a second caller, a channel that broke, or a
    // worker that does not answer within `timeout` gets nothing (status then
    // shows SESSIONS as '-'). A timeout closes the channel, since a late
    // answer would be taken for the next one.
    static awaitable<std::optional<WorkerStats>> query_stats(std::shared_ptr<WorkerControl> self,
                                                             std::chrono::milliseconds timeout);
    // Asks the worker to drain. Unlike SIGUSR1, this cannot arrive before
    // the worker is ready for it: the request waits in the socket until the
    // worker reads it. False when the channel is closed.
    bool send_drain();
    void close();

  private:
    asio::local::stream_protocol::socket socket_;
    asio::steady_timer timer_;
    std::string buffer_;
    std::uint64_t generation_ = 0;  // tells a stale timeout from the current one
    bool busy_ = false;
};

}  // namespace supervisor
