// `ftpproxyctl sessions` and `ftpproxyctl kill`: the live sessions of each
// instance's workers (current and draining), and ending one with a 421.
// A session is named PID.ID (its worker and its number there, as the
// reference names its pf anchors); a bare ID means the current worker's.
#include <algorithm>

#include "common/control_protocol.hpp"
#include "common/printable.hpp"
#include "supervisor/supervisor.hpp"

namespace supervisor {

namespace {

using nlohmann::json;
namespace control = common::control;
using control::error_answer;

// A worker's answer to a sessions or kill request; one that does not answer
// in this time is named as silent, and the others are listed all the same.
constexpr std::chrono::milliseconds kSessionsTimeout{1000};

}  // namespace

const InstanceRunner* Supervisor::find_any_runner(const std::string& name) const {
    for (const InstanceRunner* runner : all_runners())
        if (runner->instance().name == name) return runner;
    return nullptr;
}

awaitable<json> Supervisor::sessions(const json& request) {
    const auto names = request.value(control::kFieldNames, std::vector<std::string>{});
    for (const auto& name : names)
        if (!find_any_runner(name))
            co_return error_answer("no instance named '" + common::printable(name) + "'");
    json instances = json::array();
    for (const InstanceRunner* runner : all_runners()) {
        const std::string& name = runner->instance().name;
        if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
        json list = json::array();
        json silent = json::array();
        for (const WorkerProcess* process : runner->processes()) {
            const pid_t pid = process->pid();
            const auto line = co_await WorkerControl::ask(process->control(), "sessions",
                                                          kSessionsTimeout, kMaxSessionsAnswer);
            const json answer = line ? json::parse(*line, nullptr, false) : json();
            if (!answer.is_object() || !answer.contains("sessions")) {
                silent.push_back(pid);
                continue;
            }
            for (json session : answer["sessions"]) {
                if (!session.is_object()) continue;
                session["id"] = std::to_string(pid) + "." + std::to_string(session.value("id", 0));
                session["worker"] = pid;
                session["draining"] = pid != runner->pid();
                list.push_back(std::move(session));
            }
        }
        instances.push_back({{"name", name}, {"sessions", list}, {"silent_workers", silent}});
    }
    co_return json{{control::kFieldOk, true}, {"instances", instances}};
}

awaitable<json> Supervisor::kill_session(const json& request) {
    const auto names = request.value(control::kFieldNames, std::vector<std::string>{});
    const std::string session = request.value(control::kFieldSession, std::string());
    if (names.size() != 1 || session.empty())
        co_return error_answer("kill needs an instance name and a session (see sessions)");
    const InstanceRunner* runner = find_any_runner(names.front());
    if (!runner)
        co_return error_answer("no instance named '" + common::printable(names.front()) + "'");
    // PID.ID, or ID of the current worker.
    pid_t pid = runner->pid();
    std::string id = session;
    if (const auto dot = session.find('.'); dot != std::string::npos) {
        const std::string digits = session.substr(0, dot);
        const bool number = !digits.empty() && digits.size() <= 9 &&
                            digits.find_first_not_of("0123456789") == std::string::npos;
        pid = number ? static_cast<pid_t>(std::stol(digits)) : -1;
        id = session.substr(dot + 1);
    }
    const WorkerProcess* worker = nullptr;
    for (const WorkerProcess* process : runner->processes())
        if (process->pid() == pid) worker = process;
    const std::string shown = common::printable(session.substr(0, 40));
    if (!worker)
        co_return error_answer(names.front() + " has no worker for session " + shown +
                               " (see sessions)");
    const auto line =
        co_await WorkerControl::ask(worker->control(), "kill " + id, kSessionsTimeout, 4096);
    const json answer = line ? json::parse(*line, nullptr, false) : json();
    if (!answer.is_object())
        co_return error_answer("worker " + std::to_string(pid) + " did not answer");
    if (answer.contains("error"))
        co_return error_answer(names.front() + ": " + answer.value("error", std::string()));
    co_return json{{control::kFieldOk, true},
                   {"message", names.front() + ": session " + shown + " closed (421)"}};
}

}  // namespace supervisor
