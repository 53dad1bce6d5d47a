// The node's state: whether it can serve (fitness, from every instance's
// state, its worker's liveness and its backends' health), what the cluster
// layer is told (update_demotion), and how status shows it.
#include <spdlog/spdlog.h>

#include "supervisor/supervisor.hpp"

namespace supervisor {

namespace {

using nlohmann::json;

// A worker that does not answer its control socket within kLivenessTimeout
// (SIGSTOPped, stuck in a loop) serves nobody: found within about 1.5 s.
constexpr std::chrono::milliseconds kLivenessInterval{1000};
constexpr std::chrono::milliseconds kLivenessTimeout{500};

}  // namespace

void Supervisor::fitness_may_have_changed() {
    if (judging_posted_) return;
    judging_posted_ = true;
    asio::post(io_, [this] {
        judging_posted_ = false;
        judge_fitness();
    });
}

void Supervisor::watch_liveness() {
    liveness_timer_.expires_after(kLivenessInterval);
    liveness_timer_.async_wait([this](error_code error) {
        if (error || shutting_down_) return;
        for (const auto& runner : runners_) {
            if (runner->lifecycle().state() != State::running || runner->pid() <= 0) continue;
            const auto* current = runner->processes().front();
            asio::co_spawn(io_, WorkerControl::query_stats(current->control(), kLivenessTimeout),
                           [this, name = runner->instance().name, pid = runner->pid()](
                               std::exception_ptr, StatsReply reply) {
                               if (reply.outcome == StatsReply::Outcome::unavailable) return;
                               InstanceRunner* runner = find_runner(name);
                               if (runner != nullptr &&
                                   runner->worker_answered(
                                       pid, reply.outcome == StatsReply::Outcome::answered))
                                   fitness_may_have_changed();
                           });
        }
        // Draining workers answer too, for their counts only (metrics: a
        // worker's last answer is what outlives it).
        for (const InstanceRunner* runner : all_runners())
            for (const WorkerProcess* process : runner->processes())
                if (process->pid() != runner->pid())
                    asio::co_spawn(io_,
                                   WorkerControl::query_stats(process->control(), kLivenessTimeout),
                                   asio::detached);
        watch_liveness();
    });
}

void Supervisor::judge_fitness() {
    if (shutting_down_) return;  // demoted for the stop; see begin_shutdown()
    std::vector<InstanceFitness> instances;
    for (const auto& runner : runners_) {
        InstanceFitness item{runner->instance().name,
                             runner->lifecycle().state(),
                             runner->responding(),
                             runner->served_before(),
                             {}};
        if (const BackendMonitor* monitor = runner->backends(); monitor && monitor->enabled()) {
            for (const auto& entry : monitor->entries())
                item.backends.push_back(entry.health.state());
        }
        instances.push_back(std::move(item));
    }
    Fitness fitness = judge_node(instances);
    if (fitness == fitness_) return;
    if (fitness.fit) {
        spdlog::info("node is fit to serve");
    } else {
        spdlog::warn("node is not fit to serve: {}", fitness.reason);
    }
    fitness_ = std::move(fitness);
    fitness_since_ = Clock::now();
    update_demotion();
}

void Supervisor::update_demotion() {
    if (failover_since_) {
        demotion_.want(true, "planned failover (ftpproxyctl failover)");
    } else {
        demotion_.want(!fitness_.fit, fitness_.reason);
    }
}

// {"fit":false,"reason":"ftp01 has no healthy backend","fit_for":12,
//  "demotion":"keepalived","demoted":true,"wanted":true,"in_state":12,"error":null}
json Supervisor::node_json() const {
    const auto now = Clock::now();
    json node = {{"fit", fitness_.fit},
                 {"reason", fitness_.fit ? json(nullptr) : json(fitness_.reason)},
                 {"in_state", seconds_between(fitness_since_, now)},
                 {"demotion", to_string(demotion_.method())},
                 {"demoted", demotion_.applied()},
                 {"demoted_for", seconds_between(demotion_.since(), now)},
                 {"error", demotion_.error().empty() ? json(nullptr) : json(demotion_.error())},
                 {"role", node_role()},
                 {"failover",
                  failover_since_ ? json(seconds_between(*failover_since_, now)) : json(nullptr)}};
    json roles = json::object();
    for (const auto& [subject, report] : roles_) {
        roles[subject.empty() ? "node" : subject] = {{"role", report.role},
                                                     {"for", seconds_between(report.at, now)}};
    }
    node["roles"] = roles;
    node["handoff"] = handoff_.to_json();
    return node;
}

}  // namespace supervisor
