#include "supervisor/supervisor.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/control_protocol.hpp"
#include "config/diff.hpp"
#include "config/loader.hpp"
#include "config/worker_argv.hpp"
#include "supervisor/sd_notify.hpp"

namespace supervisor {

namespace {

using nlohmann::json;
namespace control = common::control;

void notify(std::string_view state) {
    std::string error;
    if (!sd_notify(state, &error) && !error.empty()) {
        spdlog::warn("sd_notify: {}", error);
    }
}

std::string count_summary(std::size_t running, std::size_t total) {
    return std::to_string(running) + " of " + std::to_string(total) + " instances started";
}

}  // namespace

Supervisor::Supervisor(asio::io_context& io, SupervisorOptions options, config::Config config)
    : io_(io),
      options_(std::move(options)),
      config_(std::move(config)),
      reaper_(io),
      control_(io, [this](json request) { return handle(std::move(request)); }),
      signals_(io, SIGHUP, SIGTERM, SIGINT),
      context_{io,
               reaper_,
               listeners_,
               &config_.global,
               options_.debug,
               options_.restart_policy,
               [this] { fitness_may_have_changed(); },
               &config_.cluster},
      demotion_(io, reaper_, config_.global.runtime_dir),
      handoff_(io, reaper_),
      liveness_timer_(io),
      started_at_(std::chrono::system_clock::now()) {}

Supervisor::~Supervisor() {
    if (metrics_) metrics_->close();
}

void Supervisor::start() {
    const std::filesystem::path runtime_dir(config_.global.runtime_dir);
    std::error_code error;
    if (!std::filesystem::exists(runtime_dir, error)) {
        if (!std::filesystem::create_directories(runtime_dir, error)) {
            throw std::runtime_error("cannot create runtime_dir " + runtime_dir.string() + ": " +
                                     error.message());
        }
        ::chmod(runtime_dir.c_str(), 0755);
        created_runtime_dir_ = true;
    }
    try {
        control_.open(config_.global.control_socket, config_.global.control_group);
        // A metrics address that cannot be had is a start-up error, as the
        // control socket is: the operator asked for it.
        const std::string problem = serve_metrics(config_.global.metrics_listen);
        if (!problem.empty()) throw std::runtime_error(problem);
    } catch (const std::runtime_error&) {
        control_.close();
        if (created_runtime_dir_) std::filesystem::remove(runtime_dir, error);
        throw;
    }
    wait_for_signals();
    // Demoted until judged fit: a node that has just started does not take
    // the shared addresses before its workers run and a backend answers.
    demotion_.configure(config_.cluster);
    handoff_.configure(config_);
    for (const config::Instance& instance : config_.instances) {
        runners_.push_back(std::make_unique<InstanceRunner>(context_, instance));
        runners_.back()->start();
    }
    fitness_may_have_changed();
    watch_liveness();
    spdlog::info("{} from {}", count_summary(running_count(), runners_.size()),
                 options_.config_path);
    asio::co_spawn(io_, startup(), asio::detached);
}

awaitable<void> Supervisor::startup() {
    co_await refresh_firewall();
    notify("READY=1\nSTATUS=" + count_summary(running_count(), runners_.size()));
}

awaitable<void> Supervisor::refresh_firewall() {
    firewall_ = co_await update_firewall(reaper_, config_);
    ++(firewall_->ok ? firewall_updates_ok_ : firewall_updates_failed_);
}

// ---------------------------------------------------------------- runners

void Supervisor::retire(std::unique_ptr<InstanceRunner> runner) {
    InstanceRunner* const gone = runner.get();
    departing_.push_back(std::move(runner));
    gone->retire([this, gone] {
        std::erase_if(departing_, [gone](const auto& runner) { return runner.get() == gone; });
        if (shutting_down_ && runners_.empty() && departing_.empty())
            asio::co_spawn(io_, finish_shutdown(), asio::detached);
    });
}

std::vector<const InstanceRunner*> Supervisor::all_runners() const {
    std::vector<const InstanceRunner*> all;
    for (const auto* list : {&runners_, &departing_})
        for (const auto& runner : *list) all.push_back(runner.get());
    return all;
}

std::size_t Supervisor::running_count() const {
    return static_cast<std::size_t>(std::count_if(
        runners_.begin(), runners_.end(), [](const auto& runner) { return runner->pid() > 0; }));
}

InstanceRunner* Supervisor::find_runner(const std::string& name) {
    for (auto& runner : runners_) {
        if (runner->instance().name == name) return runner.get();
    }
    return nullptr;
}

// ---------------------------------------------------------------- signals

void Supervisor::wait_for_signals() {
    signals_.async_wait([this](error_code error, int signal) {
        if (error) return;
        on_signal(signal);
        wait_for_signals();
    });
}

void Supervisor::on_signal(int signal) {
    if (signal == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", options_.config_path);
        asio::co_spawn(io_, reload_on_signal(), asio::detached);
        return;
    }
    if (shutting_down_) {
        spdlog::warn("signal {} again: closing every session now", signal);
        stop_now();
        return;
    }
    begin_shutdown();
}

// ---------------------------------------------------------------- reload

awaitable<void> Supervisor::reload_on_signal() {
    const json answer = co_await reload();  // it logs its outcome
    (void)answer;
}

awaitable<json> Supervisor::reload() {
    if (shutting_down_) co_return control::error_answer("ftpproxyd is shutting down");
    if (reloading_) {
        co_return control::error_answer("a reload is already in progress; try again in a moment");
    }
    reloading_ = true;
    notify("RELOADING=1");
    config::LoadResult loaded = config::load_config_file(options_.config_path);
    json answer;
    if (!loaded.config) {
        json lines = json::array();
        for (const auto& error : loaded.errors) {
            spdlog::error("reload: {}", to_string(error));
            lines.push_back(to_string(error));
        }
        spdlog::error(
            "reload refused: {} error(s) in {}; still running the previous "
            "configuration",
            loaded.errors.size(), options_.config_path);
        answer = control::error_answer(std::to_string(loaded.errors.size()) + " error(s) in " +
                                       options_.config_path +
                                       "; ftpproxyd keeps running the previous configuration");
        answer["errors"] = lines;
    } else {
        const config::ConfigDiff diff = config::diff_configs(config_, *loaded.config);
        apply_diff(std::move(*loaded.config), diff);
        co_await refresh_firewall();
        answer = {
            {control::kFieldOk, true},
            {"config", options_.config_path},
            {"unchanged", diff.unchanged},
            {"changed", diff.changed},
            {"added", diff.added},
            {"removed", diff.removed},
            {"firewall", {{control::kFieldOk, firewall_->ok}, {"message", firewall_->message}}}};
        // What this reload asked for and did not get: a worker for each added
        // or changed instance, the firewall rules. The rest stays applied.
        std::vector<std::string> failures;
        json not_started = json::array();
        for (const auto* names : {&diff.added, &diff.changed}) {
            for (const auto& name : *names) {
                const InstanceRunner* runner = find_runner(name);
                const std::string failure = runner ? runner->start_failure() : std::string();
                if (failure.empty()) continue;
                failures.push_back(name + " " + failure);
                not_started.push_back({{"name", name}, {control::kFieldError, failure}});
            }
        }
        if (!firewall_->ok) {
            failures.push_back("the firewall rules were not loaded: " + firewall_->message);
        }
        if (const std::string problem = serve_metrics(config_.global.metrics_listen);
            !problem.empty())
            failures.push_back(problem + " (the metrics stay where they were)");
        answer["not_started"] = not_started;
        if (!failures.empty()) {
            std::string text;
            for (const auto& failure : failures) text += (text.empty() ? "" : "; ") + failure;
            answer[control::kFieldOk] = false;
            answer[control::kFieldError] = "configuration applied, but " + text;
            spdlog::error("reload: {}", answer[control::kFieldError].get<std::string>());
        }
        spdlog::info("reloaded {}: {} changed, {} added, {} removed, {} unchanged",
                     options_.config_path, diff.changed.size(), diff.added.size(),
                     diff.removed.size(), diff.unchanged.size());
    }
    answer["at"] = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    last_reload_ = answer;
    ++(answer.value(control::kFieldOk, false) ? reloads_ok_ : reloads_failed_);
    reloading_ = false;
    notify("READY=1\nSTATUS=" + count_summary(running_count(), runners_.size()));
    co_return answer;
}

// Every listening socket is held while instances change: a port that goes
// from one instance to another (removed, moved, swapped) passes on with the
// connections waiting in its backlog instead of being closed and bound again.
void Supervisor::apply_diff(config::Config next, const config::ConfigDiff& diff) {
    const auto held = listeners_.hold_all();
    if (next.global.control_socket != config_.global.control_socket ||
        next.global.runtime_dir != config_.global.runtime_dir) {
        spdlog::warn(
            "reload: control_socket and runtime_dir take effect when ftpproxyd "
            "restarts; still using {}",
            config_.global.control_socket);
        next.global.control_socket = config_.global.control_socket;
        next.global.runtime_dir = config_.global.runtime_dir;
    }
    std::map<std::string, std::unique_ptr<InstanceRunner>> by_name;
    for (auto& runner : runners_) by_name[runner->instance().name] = std::move(runner);
    runners_.clear();
    for (const auto& name : diff.removed) {
        spdlog::info("reload: {} removed; its worker drains", name);
        retire(std::move(by_name[name]));
        by_name.erase(name);
    }

    config_ = std::move(next);  // new workers are started with the new global settings
    for (const config::Instance& instance : config_.instances) {
        auto it = by_name.find(instance.name);
        if (it == by_name.end()) {
            spdlog::info("reload: {} added", instance.name);
            runners_.push_back(std::make_unique<InstanceRunner>(context_, instance));
            runners_.back()->start();
            continue;
        }
        std::unique_ptr<InstanceRunner> runner = std::move(it->second);
        if (std::find(diff.changed.begin(), diff.changed.end(), instance.name) !=
            diff.changed.end()) {
            spdlog::info("reload: {} changed; a new worker starts, the old one drains",
                         instance.name);
            runner->replace(instance);
        } else {
            runner->update(instance);
        }
        runners_.push_back(std::move(runner));
    }
    try {
        control_.set_access(config_.global.control_group);
    } catch (const std::exception& e) {
        spdlog::error("reload: {}", e.what());
    }
    demotion_.configure(config_.cluster);
    handoff_.configure(config_);
    fitness_may_have_changed();
}

// ---------------------------------------------------------------- shutdown

void Supervisor::begin_shutdown() {
    shutting_down_ = true;
    liveness_timer_.cancel();
    notify("STOPPING=1");
    // The peer takes the shared addresses while this node's sessions drain;
    // the demotion is undone at the end (finish_shutdown), when the cluster
    // layer's own watch of ftpproxyd keeps the addresses away.
    fitness_ = {false, "ftpproxyd is stopping"};
    fitness_since_ = Clock::now();
    demotion_.want(true, fitness_.reason);
    std::size_t workers = 0;
    for (const auto* runner : all_runners()) workers += runner->processes().size();
    spdlog::info("stopping: {} worker(s) drain their sessions (at most {} s)", workers,
                 config_.global.drain_timeout.count());
    auto runners = std::move(runners_);
    runners_.clear();
    // Each retires its worker (drain) and lets go of its socket; the last
    // one to have no worker left finishes the shutdown.
    for (auto& runner : runners) retire(std::move(runner));
    if (departing_.empty()) asio::co_spawn(io_, finish_shutdown(), asio::detached);
}

void Supervisor::stop_now() {
    for (auto* list : {&runners_, &departing_})
        for (auto& runner : *list) runner->stop_all_now();
}

awaitable<void> Supervisor::finish_shutdown() {
    if (finished_) co_return;
    finished_ = true;
    if (config_.global.firewall != config::Firewall::none) {
        const FirewallResult cleared = co_await clear_firewall(reaper_, config_);
        if (cleared.ok) spdlog::info("firewall: rules removed ({})", cleared.message);
    }
    // Only now: until the last session ended, the peer passed its segments here.
    co_await handoff_.remove();
    co_await demotion_.release();
    control_.close();
    if (metrics_) metrics_->close();
    if (created_runtime_dir_) {
        std::error_code ignored;
        std::filesystem::remove(config_.global.runtime_dir, ignored);  // only if empty
    }
    spdlog::info("stopped");
    signals_.cancel();
    io_.stop();
}

}  // namespace supervisor
