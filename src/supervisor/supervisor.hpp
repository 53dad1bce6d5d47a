// ftpproxyd itself: runs one InstanceRunner per configured instance (each
// owns its worker processes), applies reloads, keeps the firewall rules in
// step, answers the control socket, and shuts down in order.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/diff.hpp"
#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/child_reaper.hpp"
#include "supervisor/control_server.hpp"
#include "supervisor/firewall_update.hpp"
#include "supervisor/instance_runner.hpp"
#include "supervisor/metrics_server.hpp"
#include "supervisor/node_demotion.hpp"
#include "supervisor/node_fitness.hpp"
#include "supervisor/session_handoff.hpp"

namespace supervisor {

struct SupervisorOptions {
    std::string config_path;
    bool debug = false;  // workers get -d: their logs go to our stderr
    RestartPolicy restart_policy;
};

class Supervisor final {
  public:
    Supervisor(asio::io_context& io, SupervisorOptions options, config::Config config);
    ~Supervisor();

    // Creates the runtime directory and the control socket, starts every
    // instance, then writes the firewall rules and reports readiness.
    // Throws std::runtime_error when the control socket cannot be created.
    void start();

    // A request from the control socket (control_protocol.hpp).
    awaitable<nlohmann::json> handle(nlohmann::json request);

  private:
    // The runner goes once its last old worker has ended (it drains them).
    void retire(std::unique_ptr<InstanceRunner> runner);
    // Every runner: configured ones, then removed ones still draining.
    std::vector<const InstanceRunner*> all_runners() const;
    std::size_t running_count() const;
    void wait_for_signals();
    void on_signal(int signal);
    InstanceRunner* find_runner(const std::string& name);

    // Whether the node can serve, from every instance's state and backends;
    // the cluster layer is told when that changes. Posted, so that one
    // burst of changes is judged once.
    void fitness_may_have_changed();
    // Every kLivenessInterval, asks each running worker for its stats: one
    // that does not answer in time (stopped, stuck) makes the node unfit.
    void watch_liveness();
    void judge_fitness();
    // Demoted while not fit, and while a planned failover holds it.
    void update_demotion();
    nlohmann::json node_json() const;

    // cluster_commands.cpp: the role the cluster layer reports, and a
    // planned move of the shared addresses to the peer.
    nlohmann::json carp_event(const nlohmann::json& request);
    awaitable<nlohmann::json> failover(const nlohmann::json& request);
    nlohmann::json failback();
    // "master", "backup", "fault", "mixed" (subjects differ), "unknown".
    std::string node_role() const;

    awaitable<void> startup();
    awaitable<nlohmann::json> reload();
    awaitable<void> reload_on_signal();
    void apply_diff(config::Config next, const config::ConfigDiff& diff);
    awaitable<void> refresh_firewall();
    void begin_shutdown();
    void stop_now();
    awaitable<void> finish_shutdown();

    // supervisor_metrics.cpp: /metrics (global.metrics_listen).
    // (Re)starts the HTTP endpoint when the address changed; "" or why not.
    std::string serve_metrics(const std::optional<common::Endpoint>& where);
    awaitable<std::string> metrics_page();

    // session_commands.cpp: ftpproxyctl sessions / kill.
    awaitable<nlohmann::json> sessions(const nlohmann::json& request);
    awaitable<nlohmann::json> kill_session(const nlohmann::json& request);
    // Configured or removed and still draining.
    const InstanceRunner* find_any_runner(const std::string& name) const;

    // control_commands.cpp
    awaitable<nlohmann::json> status(const nlohmann::json& request);
    nlohmann::json instance_command(std::string_view command, const nlohmann::json& request);
    nlohmann::json rules(const nlohmann::json& request) const;
    nlohmann::json info() const;

    asio::io_context& io_;
    SupervisorOptions options_;
    config::Config config_;
    ChildReaper reaper_;
    ControlServer control_;
    asio::signal_set signals_;
    Listeners listeners_;
    RunnerContext context_;
    std::vector<std::unique_ptr<InstanceRunner>> runners_;  // in the configuration's order
    // Removed by a reload, or all of them at shutdown: their workers drain.
    std::vector<std::unique_ptr<InstanceRunner>> departing_;
    std::optional<FirewallResult> firewall_;
    NodeDemotion demotion_;
    SessionHandoff handoff_;
    Fitness fitness_{false, "starting"};
    Clock::time_point fitness_since_ = Clock::now();
    bool judging_posted_ = false;
    asio::steady_timer liveness_timer_;
    struct RoleReport {
        std::string role;
        Clock::time_point at;
    };
    std::map<std::string, RoleReport> roles_;  // by subject; "" is the node as a whole
    // ftpproxyctl failover: demoted whatever the fitness, until failback.
    std::optional<Clock::time_point> failover_since_;
    bool failover_running_ = false;
    std::optional<nlohmann::json> last_reload_;
    std::shared_ptr<MetricsServer> metrics_;
    std::optional<common::Endpoint> metrics_listen_;  // where metrics_ listens
    std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
    std::uint64_t firewall_updates_ok_ = 0, firewall_updates_failed_ = 0;
    std::chrono::system_clock::time_point started_at_;
    bool created_runtime_dir_ = false;
    bool reloading_ = false;
    bool shutting_down_ = false;
    bool finished_ = false;
};

}  // namespace supervisor
