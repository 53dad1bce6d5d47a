#include "proxy/worker_metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

namespace proxy {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    ++counts_[static_cast<std::size_t>(bucket)];
    sum_ += value;
    ++count_;
}

nlohmann::json Histogram::json() const {
    nlohmann::json buckets = nlohmann::json::object();
    for (std::size_t i = 0; i < bounds_.size(); ++i)
        buckets[fmt::format("{}", bounds_[i])] = counts_[i];
    buckets["+Inf"] = counts_.back();
    return {{"buckets", std::move(buckets)}, {"sum", sum_}, {"count", count_}};
}

std::string_view session_refusal_name(SessionRefusal refusal) {
    switch (refusal) {
        case SessionRefusal::Limit:
            return "limit";
        case SessionRefusal::ShuttingDown:
            return "shutting_down";
        case SessionRefusal::NotDiverted:
            return "not_diverted";
        case SessionRefusal::Policy:
            return "policy";
        case SessionRefusal::BackendDown:
            return "backend_down";
    }
    return "unknown";
}

void WorkerMetrics::data_finished(std::uint64_t to_client, std::uint64_t to_server, double seconds,
                                  bool transfer) {
    bytes_to_client += to_client;
    bytes_to_server += to_server;
    if (transfer) transfer_seconds.observe(seconds);
}

nlohmann::json WorkerMetrics::json() const {
    nlohmann::json refused = nlohmann::json::object();
    for (std::size_t i = 0; i < kSessionRefusals; ++i)
        refused[std::string(session_refusal_name(static_cast<SessionRefusal>(i)))] =
            sessions_refused[i];
    nlohmann::json commands = nlohmann::json::object();
    for (std::size_t i = 0; i < ftp::kRefusals; ++i)
        commands[std::string(ftp::refusal_name(static_cast<ftp::Refusal>(i)))] =
            commands_refused[i];
    nlohmann::json modes = nlohmann::json::object();
    for (std::size_t i = 0; i < ftp::kDataModes; ++i)
        modes[std::string(ftp::data_mode_name(static_cast<ftp::DataMode>(i)))] =
            data_connections[i];
    return {{"sessions", sessions},
            {"sessions_refused", std::move(refused)},
            {"logins", {{"ok", logins_ok}, {"failed", logins_failed}}},
            {"commands_refused", std::move(commands)},
            {"data_connections", std::move(modes)},
            {"data_bytes", {{"to_client", bytes_to_client}, {"to_server", bytes_to_server}}},
            {"transfer_seconds", transfer_seconds.json()},
            {"server_connect_seconds", server_connect_seconds.json()}};
}

WorkerMetrics& metrics() {
    static WorkerMetrics one;
    return one;
}

}  // namespace proxy
