// The health checks of one instance's backends: a check loop per backend,
// each backend's state, and a call when any state changes. The runner asks
// it which backend new sessions should go to.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/backend_health.hpp"
#include "supervisor/health_probe.hpp"

namespace supervisor {

class BackendMonitor : public std::enable_shared_from_this<BackendMonitor> {
  public:
    struct Entry {
        config::Backend backend;
        BackendHealth health;
        // The address last checked (host names resolved), if any.
        std::optional<asio::ip::tcp::endpoint> endpoint;
    };

    // `on_change` runs after any backend's state changed (from the
    // io_context, never from within start() or stop()).
    BackendMonitor(asio::io_context& io, const config::Instance& instance,
                   std::function<void()> on_change);
    // Starts one check loop per backend (none when checks are off).
    void start();
    // Ends the loops (a check under way ends by its timeout at the latest)
    // and calls on_change no more.
    void stop();

    bool enabled() const { return check_.enabled; }
    const std::vector<Entry>& entries() const { return entries_; }
    // The first backend that is up, in the configured order.
    std::optional<std::size_t> first_up() const;

  private:
    static awaitable<void> check_loop(std::shared_ptr<BackendMonitor> self, std::size_t index);

    asio::io_context& io_;
    std::string instance_name_;
    std::optional<common::IpAddress> source_;
    config::HealthCheck check_;
    std::shared_ptr<const ProbeTls> tls_;  // 'tls.server' not off: checks speak TLS
    std::string tls_error_;                // ... but its context could not be made
    std::vector<Entry> entries_;
    std::vector<std::unique_ptr<asio::steady_timer>> timers_;  // one per loop, for stop()
    std::function<void()> on_change_;
    bool stopped_ = false;
};

}  // namespace supervisor
