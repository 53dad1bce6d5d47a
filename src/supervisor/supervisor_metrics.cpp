// ftpproxyd's /metrics: the HTTP endpoint's life (global.metrics_listen)
// and the page, from the node's state and its workers' counters.
#include <spdlog/spdlog.h>

#include "common/net_address.hpp"
#include "supervisor/metrics_text.hpp"
#include "supervisor/supervisor.hpp"

namespace supervisor {

namespace {

// A scrape waits this long for the workers (all at once); one that does
// not answer counts with its last answer (at most a liveness interval old).
constexpr std::chrono::milliseconds kScrapeTimeout{500};

}  // namespace

std::string Supervisor::serve_metrics(const std::optional<common::Endpoint>& where) {
    if (where == metrics_listen_) return "";
    std::shared_ptr<MetricsServer> next;
    if (where) {
        try {
            next = MetricsServer::start(io_, *where, [this] { return metrics_page(); });
        } catch (const std::runtime_error& e) {
            spdlog::error("{}", e.what());
            return e.what();
        }
        spdlog::info("metrics: serving http://{}/metrics", common::format_endpoint(*where));
    } else {
        spdlog::info("metrics: no longer served");
    }
    if (metrics_) metrics_->close();
    metrics_ = std::move(next);
    metrics_listen_ = where;
    return "";
}

awaitable<std::string> Supervisor::metrics_page() {
    std::vector<std::pair<pid_t, std::shared_ptr<WorkerControl>>> controls;
    for (const InstanceRunner* runner : all_runners())
        for (const WorkerProcess* process : runner->processes())
            controls.emplace_back(process->pid(), process->control());
    const Replies replies = co_await ask_workers(io_, std::move(controls), kScrapeTimeout);

    NodeSnapshot node;
    node.version = FTPPROXY_VERSION;
    node.reloads_ok = reloads_ok_;
    node.reloads_failed = reloads_failed_;
    node.firewall_updates_ok = firewall_updates_ok_;
    node.firewall_updates_failed = firewall_updates_failed_;
    node.fit = fitness_.fit;
    node.demoted = demotion_.applied();
    node.role = node_role();
    // A runner removed by a reload but still draining shows under its name
    // until its last worker is gone (its counts then go with it).
    for (const InstanceRunner* runner : all_runners()) {
        InstanceSnapshot instance;
        instance.name = runner->instance().name;
        instance.state = std::string(to_string(runner->lifecycle().state()));
        instance.restarts = runner->lifecycle().restarts();
        instance.counts = runner->exited_workers_counts();
        for (const WorkerProcess* process : runner->processes()) {
            ++instance.workers;
            const auto reply = replies.find(process->pid());
            if (reply != replies.end() && reply->second.outcome == StatsReply::Outcome::answered)
                instance.sessions_active += reply->second.stats.sessions;
            else
                ++instance.workers_silent;
            add_counts(instance.counts, process->control()->last_metrics());
        }
        if (const BackendMonitor* monitor = runner->backends())
            for (const auto& entry : monitor->entries())
                instance.backends.push_back(
                    {common::format_host_port(entry.backend.host, entry.backend.port),
                     monitor->enabled() ? std::string(to_string(entry.health.state()))
                                        : std::string("unchecked")});
        node.instances.push_back(std::move(instance));
    }
    co_return render_metrics(node);
}

}  // namespace supervisor
