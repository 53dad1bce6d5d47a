// The answers to ftpproxyctl's requests (common/control_protocol.hpp).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/control_protocol.hpp"
#include "common/printable.hpp"
#include "config/firewall_rules.hpp"
#include "supervisor/supervisor.hpp"

namespace supervisor {

namespace {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::seconds;

// A worker answers in microseconds; one that does not within this is shown
// without its session count rather than holding up status.
constexpr std::chrono::milliseconds kStatsTimeout{500};
// The state status shows for a RUNNING worker that does not answer in time.
constexpr const char* kUnresponsive = "UNRESPONSIVE";

namespace control = common::control;
using control::error_answer;

std::int64_t seconds_since(std::chrono::system_clock::time_point at) {
    return duration_cast<seconds>(std::chrono::system_clock::now() - at).count();
}

// A worker's stats field, or null when it did not answer.
json stats_json(const Replies& replies, pid_t pid, std::int64_t WorkerStats::*field) {
    const auto it = replies.find(pid);
    if (it == replies.end() || it->second.outcome != StatsReply::Outcome::answered) return nullptr;
    return it->second.stats.*field;
}

// true: it answered; false: it did not within kStatsTimeout (stopped,
// stuck); null: nobody to ask, or no channel to ask it over.
json responding_json(const Replies& replies, pid_t pid) {
    const auto it = replies.find(pid);
    if (it == replies.end()) return nullptr;
    switch (it->second.outcome) {
        case StatsReply::Outcome::answered:
            return true;
        case StatsReply::Outcome::no_answer:
            return false;
        case StatsReply::Outcome::unavailable:
            return nullptr;
    }
    return nullptr;
}

// Each backend in the configured order, with what its checks say:
// {"address":"198.19.0.1:21","health":"down","in_state":12,
//  "detail":"connect 198.19.0.1:21: Connection refused","reason":"...",
//  "checks":40,"failures":6}. "health" is "unchecked" when checks are off.
json backends_json(const InstanceRunner& runner, Clock::time_point now) {
    json list = json::array();
    const BackendMonitor* monitor = runner.backends();
    if (monitor == nullptr) return list;
    for (const auto& entry : monitor->entries()) {
        json item = {{"address", common::format_host_port(entry.backend.host, entry.backend.port)},
                     {"health", "unchecked"}};
        if (monitor->enabled()) {
            const BackendHealth& health = entry.health;
            item["health"] = to_string(health.state());
            item["in_state"] = seconds_between(health.since(), now);
            item["detail"] = health.checks() ? json(health.last_detail()) : json(nullptr);
            item["reason"] = health.failures() ? json(health.reason()) : json(nullptr);
            item["checks"] = health.checks();
            item["failures"] = health.failures();
        }
        list.push_back(std::move(item));
    }
    return list;
}

json instance_json(const InstanceRunner& runner, const Replies& replies, Clock::time_point now) {
    const config::Instance& instance = runner.instance();
    const Lifecycle& lifecycle = runner.lifecycle();
    json item = {
        {"name", instance.name},
        {"state", to_string(lifecycle.state())},
        {"mode", to_string(instance.mode)},
        {"listen", common::format_endpoint(instance.listen_address, instance.listen_port)},
        {"public", nullptr},
        {"backend", nullptr},
        {"pid", nullptr},
        {"uptime", nullptr},
        {"sessions", nullptr},
        {"accepted", nullptr},
        {"responding", nullptr},
        {"restarts", lifecycle.restarts()},
        {"in_state", seconds_between(lifecycle.since(), now)},
        {"last_exit", nullptr},
    };
    if (instance.public_address) {
        item["public"] = common::format_endpoint(*instance.public_address, instance.public_port);
    }
    if (!instance.backends.empty()) {
        const config::Backend& chosen = instance.backends[runner.chosen_backend()];
        item["backend"] = common::format_host_port(chosen.host, chosen.port);
        item["backends"] = backends_json(runner, now);
    }
    if (runner.pid() > 0) {
        item["pid"] = runner.pid();
        item["uptime"] = seconds_between(runner.worker_started(), now);
        item["sessions"] = stats_json(replies, runner.pid(), &WorkerStats::sessions);
        item["accepted"] = stats_json(replies, runner.pid(), &WorkerStats::accepted);
        item["responding"] = responding_json(replies, runner.pid());
        if (lifecycle.state() == State::draining) {  // counting down, e.g. after a failover
            item["drain_deadline_in"] =
                seconds_between(now, runner.processes().front()->deadline());
        }
        // A worker that should be serving and does not answer is not: say so
        // where scripts and people look first (and exit 3 from status).
        if (lifecycle.state() == State::running && item["responding"] == false) {
            item["state"] = kUnresponsive;
        }
    }
    if (const auto& exit = lifecycle.last_exit()) {
        item["last_exit"] = {{"reason", exit->reason}, {"ago", seconds_between(exit->at, now)}};
    }
    return item;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
    return text.empty() ? "none" : text;
}

}  // namespace

awaitable<json> Supervisor::handle(json request) {
    if (const auto error = control::request_error(request)) {
        co_return error_answer("bad request: " + *error);
    }
    const std::string command = request.value("command", "");
    if (command == control::kStatus) co_return co_await status(request);
    if (command == control::kReload) co_return co_await reload();
    if (control::is_instance_command(command)) {
        co_return instance_command(command, request);
    }
    if (command == control::kRules) co_return rules(request);
    if (command == control::kInfo) co_return info();
    if (command == control::kCarpEvent) co_return carp_event(request);
    if (command == control::kFailover) co_return co_await failover(request);
    if (command == control::kFailback) co_return failback();
    if (command == control::kSessions) co_return co_await sessions(request);
    if (command == control::kKill) co_return co_await kill_session(request);
    co_return error_answer("unknown command '" + common::printable(command) + "'");
}

awaitable<json> Supervisor::status(const json& request) {
    std::vector<std::string> names = request.value("names", std::vector<std::string>{});
    std::vector<std::string> configured;
    for (const auto& runner : runners_) configured.push_back(runner->instance().name);
    for (const auto& name : names) {
        if (!find_runner(name)) {
            co_return error_answer("no instance named '" + common::printable(name) +
                                   "' (configured: " + join_names(configured) + ")");
        }
    }
    // Ask first, describe after: workers may come and go while we wait.
    std::vector<std::pair<pid_t, std::shared_ptr<WorkerControl>>> controls;
    for (const auto* runner : all_runners())
        for (const auto* process : runner->processes())
            controls.emplace_back(process->pid(), process->control());
    const Replies replies = co_await ask_workers(io_, std::move(controls), kStatsTimeout);

    const auto now = Clock::now();
    const auto wanted = [&](const std::string& name) {
        return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
    };
    json instances = json::array();
    for (const auto& runner : runners_) {
        if (wanted(runner->instance().name))
            instances.push_back(instance_json(*runner, replies, now));
    }
    json old_workers = json::array();
    for (const auto* runner : all_runners()) {
        if (!wanted(runner->instance().name)) continue;
        for (const auto& process : runner->old_workers()) {
            const pid_t pid = process->pid();
            old_workers.push_back({{"name", runner->instance().name},
                                   {"pid", pid},
                                   {"uptime", seconds_between(process->started(), now)},
                                   {"sessions", stats_json(replies, pid, &WorkerStats::sessions)},
                                   {"responding", responding_json(replies, pid)},
                                   {"deadline_in", seconds_between(now, process->deadline())}});
        }
    }
    json node = node_json();
    json firewall = {{"type", to_string(config_.global.firewall)},
                     {"rules_file", config_.global.rules_file}};
    if (firewall_) {
        firewall[control::kFieldOk] = firewall_->ok;
        firewall["message"] = firewall_->message;
        firewall["ago"] = seconds_since(firewall_->at);
    }
    json supervisor = {{"pid", getpid()},
                       {"config", options_.config_path},
                       {"config_digest", config_.sha256},
                       {"uptime", seconds_since(started_at_)},
                       {"reloading", reloading_},
                       {"shutting_down", shutting_down_},
                       {"drain_timeout", config_.global.drain_timeout.count()}};
    if (last_reload_) {
        json last = {{control::kFieldOk, (*last_reload_)[control::kFieldOk]},
                     {"ago", std::chrono::duration_cast<seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                     .count() -
                                 (*last_reload_)["at"].get<std::int64_t>()}};
        if (last_reload_->contains(control::kFieldError))
            last[control::kFieldError] = (*last_reload_)[control::kFieldError];
        supervisor["last_reload"] = last;
    }
    co_return json{{control::kFieldOk, true},
                   {"supervisor", supervisor},
                   {"firewall", firewall},
                   {"node", node},
                   {"instances", instances},
                   {"old_workers", old_workers}};
}

json Supervisor::instance_command(std::string_view command, const json& request) {
    if (shutting_down_) return error_answer("ftpproxyd is shutting down");
    std::vector<std::string> names = request.value("names", std::vector<std::string>{});
    if (names.empty()) return error_answer(std::string(command) + ": name an instance, or all");
    std::vector<InstanceRunner*> targets;
    std::vector<std::string> configured;
    for (const auto& runner : runners_) configured.push_back(runner->instance().name);
    for (const auto& name : names) {
        if (name == control::kAll) {
            targets.clear();
            for (auto& runner : runners_) targets.push_back(runner.get());
            break;
        }
        InstanceRunner* runner = find_runner(name);
        if (!runner) {
            return error_answer("no instance named '" + common::printable(name) +
                                "' (configured: " + join_names(configured) + ")");
        }
        targets.push_back(runner);
    }

    const std::string drain_bound = std::to_string(config_.global.drain_timeout.count()) + " s";
    json results = json::array();
    bool all_ok = true;
    for (InstanceRunner* runner : targets) {
        const State before = runner->lifecycle().state();
        const pid_t old_pid = runner->pid();
        std::string message;
        bool ok = true;
        if (command == control::kStart) {
            if (before == State::starting || before == State::running) {
                message = "already running (pid " + std::to_string(old_pid) + ")";
            } else {
                runner->start();
            }
        } else if (command == control::kRestart) {
            runner->restart();
            if (old_pid > 0 && runner->pid() > 0) {
                message = "restarted: new worker " + std::to_string(runner->pid()) +
                          "; the old worker " + std::to_string(old_pid) +
                          " finishes its sessions (at most " + drain_bound + ")";
            }
        } else if (command == control::kStop) {
            if (old_pid <= 0 && before != State::backoff && before != State::fatal) {
                message = "already stopped";
            } else {
                runner->stop();
                message = old_pid > 0 ? "stopping: worker " + std::to_string(old_pid) +
                                            " closes its sessions (421) and exits"
                                      : "stopped";
            }
        } else {  // drain
            if (old_pid <= 0) {
                message = std::string("not running (") +
                          std::string(to_string(runner->lifecycle().state())) + ")";
                runner->drain();  // BACKOFF: no further restart
            } else {
                runner->drain();
                message = "draining: worker " + std::to_string(old_pid) +
                          " accepts no new connections and exits after its last session "
                          "(at most " +
                          drain_bound + ")";
            }
        }
        if (message.empty()) {  // start or restart without an old worker
            if (runner->pid() > 0) {
                message = "started (pid " + std::to_string(runner->pid()) + ")";
            } else {
                ok = false;
                message = runner->start_failure();
            }
        }
        spdlog::info("{} {}: {}", command, runner->instance().name, message);
        all_ok = all_ok && ok;
        results.push_back(
            {{"name", runner->instance().name}, {control::kFieldOk, ok}, {"message", message}});
    }
    json answer = {{control::kFieldOk, all_ok}, {"results", results}};
    if (!all_ok) answer[control::kFieldError] = std::string(command) + " failed for some instances";
    return answer;
}

json Supervisor::rules(const json& request) const {
    const std::string syntax = request.value("syntax", "");
    config::Config config = config_;
    if (syntax == "pf") {
        config.global.firewall = config::Firewall::pf;
    } else if (syntax == "nft" || syntax == "nftables") {
        config.global.firewall = config::Firewall::nftables;
    } else if (!syntax.empty()) {
        return error_answer("unknown rules syntax '" + common::printable(syntax) + "' (pf or nft)");
    } else if (config.global.firewall == config::Firewall::none) {
        return error_answer(
            "the configuration says firewall: none, so no rules are written; "
            "`ftpproxyctl rules pf` or `ftpproxyctl rules nft` shows what they "
            "would be");
    }
    const auto text = config::render_firewall_rules(config);
    json answer = {{control::kFieldOk, true},
                   {"firewall", to_string(config.global.firewall)},
                   {"text", *text}};
    if (syntax.empty()) answer["rules_file"] = config.global.rules_file;
    return answer;
}

json Supervisor::info() const {
    return {{control::kFieldOk, true},
            {"config", options_.config_path},
            {"control_socket", config_.global.control_socket},
            {"pid", getpid()}};
}

}  // namespace supervisor
