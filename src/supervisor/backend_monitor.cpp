#include "supervisor/backend_monitor.hpp"

#include <spdlog/spdlog.h>

#include "supervisor/health_probe.hpp"

namespace supervisor {

BackendMonitor::BackendMonitor(asio::io_context& io, const config::Instance& instance,
                               std::function<void()> on_change)
    : io_(io),
      instance_name_(instance.name),
      source_(instance.source_address),
      check_(instance.health_check),
      on_change_(std::move(on_change)) {
    try {
        if (auto tls = probe_tls_for(instance.tls))
            tls_ = std::make_shared<const ProbeTls>(std::move(*tls));
    } catch (const proxy::TlsSetupError& error) {
        tls_error_ = error.what();  // every check fails with it (`check` catches it first)
    }
    const auto now = BackendHealth::Clock::now();
    for (const auto& backend : instance.backends) {
        entries_.push_back({backend, BackendHealth(check_.rise, check_.fall, now), std::nullopt});
    }
}

void BackendMonitor::start() {
    if (!check_.enabled) return;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        timers_.push_back(std::make_unique<asio::steady_timer>(io_));
        asio::co_spawn(io_, check_loop(shared_from_this(), i), asio::detached);
    }
}

void BackendMonitor::stop() {
    stopped_ = true;
    on_change_ = nullptr;
    for (auto& timer : timers_) timer->cancel();
}

std::optional<std::size_t> BackendMonitor::first_up() const {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].health.state() == Health::up) return i;
    }
    return std::nullopt;
}

// Checks run one after the other per backend, `interval` apart; the loops
// of different backends run side by side.
awaitable<void> BackendMonitor::check_loop(std::shared_ptr<BackendMonitor> self,
                                           std::size_t index) {
    while (!self->stopped_) {
        ProbeResult result;
        if (self->tls_error_.empty())
            result = co_await probe_backend(self->entries_[index].backend, self->source_,
                                            self->check_, self->tls_);
        else
            result.detail = "TLS: " + self->tls_error_;
        if (self->stopped_) co_return;
        Entry& entry = self->entries_[index];
        if (result.endpoint) entry.endpoint = result.endpoint;
        const std::string name = common::format_host_port(entry.backend.host, entry.backend.port);
        if (entry.health.record(result.ok, result.detail, BackendHealth::Clock::now())) {
            if (result.ok) {
                spdlog::info("{}: backend {} is up ({})", self->instance_name_, name,
                             result.detail);
            } else {
                spdlog::warn("{}: backend {} is down ({})", self->instance_name_, name,
                             result.detail);
            }
            if (self->on_change_) self->on_change_();
        }
        if (self->stopped_) co_return;
        auto& timer = *self->timers_[index];
        timer.expires_after(self->check_.interval);
        error_code ignored;
        co_await timer.async_wait(with_error(ignored));
    }
}

}  // namespace supervisor
