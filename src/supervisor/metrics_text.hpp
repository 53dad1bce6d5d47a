// ftpproxyd's /metrics page in the Prometheus text format (version 0.0.4):
// pure, from a snapshot of the node and its instances, so the exact page is
// testable (tests/unit/supervisor/golden/metrics.txt) and `promtool check
// metrics` reads it in the supervisor tests.
//
// Names follow Prometheus conventions: ftpproxy_ prefix, base units
// (seconds, bytes), counters end in _total; labels are few and bounded:
// proxy (an instance's name from ftpproxy.yaml; not `instance`, which
// Prometheus sets on every target itself), backend (an address from it),
// reason, result, mode, direction, state, role. Never a client address.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace supervisor {

// Adds every number of `from` into the same place in `into` (objects
// merged key by key, recursively): how the counters of an instance's
// workers, current, draining and gone, become the instance's.
void add_counts(nlohmann::json& into, const nlohmann::json& from);

struct InstanceSnapshot {
    std::string name;
    std::string state;                 // the lifecycle state, e.g. "RUNNING"
    std::int64_t sessions_active = 0;  // live workers' sessions now
    std::int64_t workers = 0;          // worker processes, draining ones included
    std::int64_t workers_silent = 0;   // of them, those that did not answer the scrape
    std::int64_t restarts = 0;         // worker restarts by ftpproxyd
    nlohmann::json counts;             // add_counts() of its workers' metrics
    struct Backend {
        std::string address;  // host:port as configured
        std::string health;   // "up", "down", "unchecked"...
    };
    std::vector<Backend> backends;
};

struct NodeSnapshot {
    std::string version;
    std::uint64_t reloads_ok = 0, reloads_failed = 0;
    std::uint64_t firewall_updates_ok = 0, firewall_updates_failed = 0;
    bool fit = false;
    bool demoted = false;
    std::string role;  // "master", "backup", "fault", "mixed", "unknown"
    std::vector<InstanceSnapshot> instances;
};

// Every lifecycle state an instance can be in: each gets a series, 1 for
// the current one (a state-set, as Prometheus exporters write them).
inline const std::vector<std::string>& instance_states() {
    static const std::vector<std::string> states = {"STARTING", "RUNNING", "BACKOFF",
                                                    "DRAINING", "STOPPED", "FATAL"};
    return states;
}

std::string render_metrics(const NodeSnapshot& node);

}  // namespace supervisor
