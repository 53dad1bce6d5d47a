// The cluster's commands: the role the cluster layer reports
// (ftpproxyctl carp-event, from keepalived's notify, ucarp's up/down
// scripts, ifstated), and a planned move of the shared addresses to the
// peer (ftpproxyctl failover, failback). See docs/carp-failover.md.
#include <spdlog/spdlog.h>

#include <set>

#include "common/control_protocol.hpp"
#include "common/printable.hpp"
#include "supervisor/supervisor.hpp"

namespace supervisor {

namespace {

namespace control = common::control;
using control::error_answer;
using nlohmann::json;

// A VIP or an instance name; anything longer is not one.
constexpr std::size_t kMaxSubject = 64;
// Subjects remembered: a cluster has a few VIPs; a hook gone wrong must not
// grow the map (and status) without end.
constexpr std::size_t kMaxSubjects = 64;
// How long failover waits for the addresses to leave, unless told.
constexpr std::chrono::seconds kDefaultFailoverWait{10};
constexpr std::chrono::milliseconds kFailoverPoll{50};

std::string tenths(Clock::duration elapsed) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

}  // namespace

std::string Supervisor::node_role() const {
    std::set<std::string> roles;
    for (const auto& [subject, report] : roles_) roles.insert(report.role);
    if (roles.empty()) return "unknown";
    return roles.size() == 1 ? *roles.begin() : "mixed";
}

json Supervisor::carp_event(const json& request) {
    const std::string role = request.value(control::kFieldRole, std::string());
    if (!control::is_role(role)) {
        return error_answer("carp-event needs a role: master, backup or fault (got '" +
                            common::printable(role) + "')");
    }
    const std::string subject = request.value(control::kFieldSubject, std::string());
    if (subject.size() > kMaxSubject || common::printable(subject) != subject ||
        subject.find(' ') != std::string::npos) {
        return error_answer("carp-event: '" + common::printable(subject.substr(0, kMaxSubject)) +
                            "' is not a VIP or an instance name");
    }
    const std::string label = subject.empty() ? "node" : subject;
    if (!roles_.contains(subject) && roles_.size() >= kMaxSubjects) {
        return error_answer("carp-event: already " + std::to_string(kMaxSubjects) +
                            " VIPs or instances reported; '" + subject + "' is not kept");
    }
    RoleReport& report = roles_[subject];
    const std::string before = report.role.empty() ? "unknown" : report.role;
    if (report.role == role)
        return {{control::kFieldOk, true}, {"message", label + ": " + role + " (unchanged)"}};
    report = {role, Clock::now()};
    if (role == control::kRoleMaster) {
        spdlog::info("cluster: {} is now MASTER (was {})", label, before);
    } else {
        spdlog::warn("cluster: {} is now {} (was {})", label,
                     role == control::kRoleBackup ? "BACKUP" : "FAULT", before);
    }
    return {{control::kFieldOk, true}, {"message", label + ": " + role + " (was " + before + ")"}};
}

// Demote and hold; wait (bounded) until the cluster layer reports that the
// addresses left (or, with no role reported at all, for the whole wait);
// then let every instance drain. Connections keep being served here until
// the addresses have gone: none is refused during the move.
awaitable<json> Supervisor::failover(const json& request) {
    if (shutting_down_) co_return error_answer("ftpproxyd is shutting down");
    if (config_.cluster.demotion == config::Demotion::none) {
        co_return error_answer(
            "cluster.demotion is none: nothing would tell the cluster layer to move the "
            "addresses (see docs/carp-failover.md)");
    }
    if (failover_running_) co_return error_answer("a failover is already under way");
    const std::chrono::seconds wait{
        request.value(control::kFieldWait, static_cast<int>(kDefaultFailoverWait.count()))};
    failover_running_ = true;
    if (!failover_since_) failover_since_ = Clock::now();
    update_demotion();
    spdlog::warn("planned failover: node demoted; waiting up to {} s for the addresses to leave",
                 wait.count());
    const auto started = Clock::now();
    const bool role_known = !roles_.empty();
    const auto moved = [this] { return node_role() == "backup" || node_role() == "fault"; };
    asio::steady_timer poll(io_);
    while (Clock::now() - started < wait && failover_since_ && !shutting_down_ &&
           !(role_known && demotion_.applied() && moved())) {
        poll.expires_after(kFailoverPoll);
        error_code ignored;
        co_await poll.async_wait(with_error(ignored));
    }
    failover_running_ = false;
    if (!failover_since_) co_return error_answer("failback during the failover: the node serves");
    if (shutting_down_) co_return error_answer("ftpproxyd is shutting down");
    if (!demotion_.applied()) {
        co_return error_answer(
            "the demotion did not take effect (" +
            (demotion_.error().empty() ? std::string("still under way") : demotion_.error()) +
            "): the node keeps serving; `ftpproxyctl failback` undoes the hold");
    }
    if (role_known && !moved()) {
        co_return error_answer("this node is still " + node_role() + " after " +
                               std::to_string(wait.count()) +
                               " s: it stays demoted and keeps serving; check the peer, or undo "
                               "with `ftpproxyctl failback`");
    }
    std::size_t draining = 0;
    for (auto& runner : runners_) {
        if (runner->pid() <= 0) continue;
        runner->drain();
        ++draining;
    }
    const std::string how = role_known
                                ? "role " + node_role() + " after " + tenths(Clock::now() - started)
                                : "no role reported (no carp-event hook?): waited " +
                                      std::to_string(wait.count()) + " s";
    const std::string message = "demoted (" + std::string(to_string(config_.cluster.demotion)) +
                                "); " + how + "; " + std::to_string(draining) +
                                " instance(s) drain their sessions (at most " +
                                std::to_string(config_.global.drain_timeout.count()) +
                                " s); `ftpproxyctl failback` serves again";
    spdlog::warn("planned failover: {}", message);
    co_return json{{control::kFieldOk, true}, {"message", message}};
}

json Supervisor::failback() {
    if (shutting_down_) return error_answer("ftpproxyd is shutting down");
    if (!failover_since_) return error_answer("no failover to undo (see `ftpproxyctl failover`)");
    failover_since_.reset();
    std::size_t started = 0;
    for (auto& runner : runners_) {
        const State state = runner->lifecycle().state();
        if (state != State::draining && state != State::stopped) continue;
        runner->start();
        ++started;
    }
    update_demotion();
    fitness_may_have_changed();
    const std::string message = "failover undone: " + std::to_string(started) +
                                " instance(s) started; the node is promoted once fit";
    spdlog::info("{}", message);
    return {{control::kFieldOk, true}, {"message", message}};
}

}  // namespace supervisor
