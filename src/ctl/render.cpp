#include "ctl/render.hpp"

#include <array>
#include <map>
#include <vector>

#include "common/control_protocol.hpp"
#include "ctl/exit_codes.hpp"

namespace ctl {

namespace {

using nlohmann::json;
namespace control = common::control;

constexpr std::array<const char*, 10> kColumns = {"NAME",     "STATE",    "PID",     "UPTIME",
                                                  "LISTEN",   "PUBLIC",   "BACKEND", "SESSIONS",
                                                  "RESTARTS", "LAST-EXIT"};
constexpr const char* kNothing = "-";

// A field as text: strings as they are, numbers in decimal, null as '-'.
std::string text_of(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return kNothing;
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

std::string last_exit_text(const json& instance) {
    const auto it = instance.find("last_exit");
    if (it == instance.end() || !it->is_object()) return kNothing;
    return it->value("reason", std::string("?")) + ", " +
           format_duration(it->value("ago", std::int64_t{0})) + " ago";
}

// One line per backend that is not up, with why:
// "ftp01: backend 198.19.0.1:21 down for 2m05s: connect ...: Connection refused".
std::string backend_notes(const json& instances) {
    std::string text;
    for (const auto& instance : instances) {
        for (const auto& backend : instance.value("backends", json::array())) {
            const std::string health = backend.value("health", std::string("unchecked"));
            if (health == "up" || health == "unchecked") continue;
            text += instance.value("name", std::string("?")) + ": backend " +
                    backend.value("address", std::string("?")) + " " + health + " for " +
                    format_duration(backend.value("in_state", std::int64_t{0}));
            const auto reason = backend.find("reason");
            if (reason != backend.end() && reason->is_string())
                text += ": " + reason->get<std::string>();
            text += "\n";
        }
    }
    return text;
}

// "; node: fit, not demoted (keepalived) 5m00s ago" or "; node: NOT FIT
// (ftp01 has no healthy backend), demoted (keepalived) 12s ago", the role,
// and a failed demotion with its reason.
std::string node_text(const json& status) {
    const auto node = status.find("node");
    if (node == status.end() || !node->is_object()) return {};
    // Without a cluster layer to tell, the verdict is only in --json.
    if (node->value("demotion", std::string("none")) == "none") return {};
    const bool fit = node->value("fit", false);
    std::string text = fit ? "; node: fit" : "; node: NOT FIT";
    const std::string role = node->value("role", std::string("unknown"));
    const auto reason = node->find("reason");
    if (!fit && reason != node->end() && reason->is_string())
        text += " (" + reason->get<std::string>() + ")";
    const std::string method = node->value("demotion", std::string("none"));
    if (method != "none") {
        text += node->value("demoted", false) ? ", demoted" : ", not demoted";
        text += " (" + method + ") " +
                format_duration(node->value("demoted_for", std::int64_t{0})) + " ago";
    }
    if (role != "unknown") text += ", " + role;
    const auto failover = node->find("failover");
    if (failover != node->end() && failover->is_number_integer())
        text += ", failover since " + format_duration(failover->get<std::int64_t>());
    const auto error = node->find("error");
    if (error != node->end() && error->is_string())
        text += "; demotion FAILED: " + error->get<std::string>();
    return text;
}

// "config: /etc/ftpproxy/ftpproxy.yaml, sha256 3a7b...": the file the
// running configuration was loaded from, to compare between nodes (an
// ftpproxyd older than the digest has none: no line).
std::string config_line(const json& status) {
    const json supervisor = status.value("supervisor", json::object());
    const auto digest = supervisor.find("config_digest");
    if (digest == supervisor.end() || !digest->is_string() || digest->empty()) return {};
    return "config: " + supervisor.value("config", std::string("?")) + ", sha256 " +
           digest->get<std::string>() + "\n";
}

// "handoff: 198.18.11.1 -> 198.18.11.12 (lan)", or why it is not in place
// (no line when cluster.handoff is off).
std::string handoff_line(const json& status) {
    const json node = status.value("node", json::object());
    const auto handoff = node.find("handoff");
    if (handoff == node.end() || !handoff->is_object()) return {};
    const auto error = handoff->find("error");
    if (error != handoff->end() && error->is_string())
        return "handoff: NOT IN PLACE: " + error->get<std::string>() + "\n";
    std::string routes;
    for (const auto& route : handoff->value("routes", json::array())) {
        routes += (routes.empty() ? "" : ", ") + text_of(route, "vip") + " -> " +
                  text_of(route, "peer") + " (" + text_of(route, "interface") + ")";
    }
    if (!handoff->value("installed", false)) return "handoff: being set up\n";
    return "handoff: " + routes + "\n";
}

std::vector<std::string> row_of(const json& instance) {
    const auto uptime = instance.find("uptime");
    return {text_of(instance, "name"), text_of(instance, "state"), text_of(instance, "pid"),
            uptime != instance.end() && uptime->is_number_integer()
                ? format_duration(uptime->get<std::int64_t>())
                : kNothing,
            text_of(instance, "listen"), text_of(instance, "public"),
            // The one new sessions go to; its health is in the notes below
            // the table (columns stay one word each, for scripts).
            text_of(instance, "backend"), text_of(instance, "sessions"),
            text_of(instance, "restarts"), last_exit_text(instance)};
}

std::string two_digits(std::int64_t value) {
    return (value < 10 ? "0" : "") + std::to_string(value);
}

std::string plural(std::size_t count, const std::string& word) {
    return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

std::string join(const json& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : ", ") + name.get<std::string>();
    return text.empty() ? "none" : text;
}

}  // namespace

std::string format_duration(std::int64_t seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 60) return std::to_string(seconds) + "s";
    if (seconds < 3600) return std::to_string(seconds / 60) + "m" + two_digits(seconds % 60) + "s";
    if (seconds < 86400) {
        return std::to_string(seconds / 3600) + "h" + two_digits(seconds % 3600 / 60) + "m";
    }
    return std::to_string(seconds / 86400) + "d" + two_digits(seconds % 86400 / 3600) + "h";
}

std::string render_status(const json& status) {
    std::vector<std::vector<std::string>> rows;
    rows.emplace_back(kColumns.begin(), kColumns.end());
    for (const auto& instance : status.value("instances", json::array())) {
        rows.push_back(row_of(instance));
    }
    std::vector<std::size_t> widths(kColumns.size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string text;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        text += line + "\n";
    }
    return text + backend_notes(status.value("instances", json::array())) + config_line(status) +
           handoff_line(status) + render_summary(status) + "\n";
}

std::string render_summary(const json& status) {
    const json instances = status.value("instances", json::array());
    // In the order of the life cycle, so the line reads the same every time.
    constexpr std::array<const char*, 7> kStates = {
        "RUNNING", "UNRESPONSIVE", "STARTING", "BACKOFF", "DRAINING", "STOPPED", "FATAL"};
    std::map<std::string, std::size_t> counts;
    for (const auto& instance : instances) ++counts[instance.value("state", std::string("?"))];
    std::string text = plural(instances.size(), "instance");
    std::string by_state;
    for (const char* state : kStates) {
        if (const auto it = counts.find(state); it != counts.end()) {
            std::string word = state;
            for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            by_state += (by_state.empty() ? "" : ", ") + std::to_string(it->second) + " " + word;
        }
    }
    if (!by_state.empty()) text += ": " + by_state;
    std::int64_t drain_left = -1;  // the longest a draining instance may still take
    for (const auto& instance : instances) {
        const auto left = instance.find("drain_deadline_in");
        if (left != instance.end() && left->is_number_integer())
            drain_left = std::max(drain_left, left->get<std::int64_t>());
    }
    if (drain_left >= 0) text += " (draining: at most " + format_duration(drain_left) + " left)";

    const json old_workers = status.value("old_workers", json::array());
    if (!old_workers.empty()) {
        std::int64_t sessions = 0;
        std::size_t silent = 0;
        bool known = true;
        for (const auto& worker : old_workers) {
            const auto it = worker.find("sessions");
            if (it != worker.end() && it->is_number_integer()) {
                sessions += it->get<std::int64_t>();
            } else {
                known = false;
            }
            if (worker.value("responding", json()) == false) ++silent;
        }
        text += "; " + plural(old_workers.size(), "old worker") + " draining";
        if (known) text += " (" + plural(static_cast<std::size_t>(sessions), "session") + ")";
        if (silent > 0) text += " (" + std::to_string(silent) + " not answering)";
    }

    const json firewall = status.value("firewall", json::object());
    const std::string type = firewall.value("type", std::string("none"));
    if (type == "none") {
        text += "; firewall: none";
    } else if (!firewall.contains(control::kFieldOk)) {
        text += "; firewall: " + type + ", rules not written yet";
    } else if (firewall.value(control::kFieldOk, false)) {
        text += "; firewall: " + type + " rules loaded " +
                format_duration(firewall.value("ago", std::int64_t{0})) + " ago";
    } else {
        text += "; firewall: " + type + " FAILED: " + firewall.value("message", std::string());
    }

    text += node_text(status);

    const json supervisor = status.value("supervisor", json::object());
    if (supervisor.value("shutting_down", false)) text += "; ftpproxyd is shutting down";
    const auto last_reload = supervisor.find("last_reload");
    if (last_reload != supervisor.end() && !last_reload->value(control::kFieldOk, true)) {
        text += "; last reload (" + format_duration(last_reload->value("ago", std::int64_t{0})) +
                " ago) failed: " + last_reload->value(control::kFieldError, std::string("?"));
    }
    return text;
}

int status_exit_code(const json& status, bool whole_node) {
    for (const auto& instance : status.value("instances", json::array())) {
        if (instance.value("state", std::string()) != "RUNNING") return kExitNotRunning;
    }
    // Only where the summary shows the verdict (a cluster: demotion set), so
    // that an exit of 3 always comes with its reason on screen.
    const json node = status.value("node", json::object());
    if (whole_node && node.value("demotion", std::string("none")) != "none" &&
        node.value("fit", true) == false)
        return kExitNotRunning;
    return kExitOk;
}

std::string render_results(const json& answer) {
    std::string text;
    for (const auto& result : answer.value("results", json::array())) {
        text += result.value("name", std::string("?")) + ": " +
                result.value("message", std::string()) + "\n";
    }
    return text;
}

std::string render_reload(const json& answer) {
    std::string text;
    if (answer.contains("errors")) {
        for (const auto& line : answer["errors"]) text += line.get<std::string>() + "\n";
        return text;
    }
    if (!answer.contains("changed")) return text;
    text += "reloaded " + answer.value("config", std::string("the configuration")) + "\n";
    text +=
        "  changed:   " + join(answer["changed"]) +
        (answer["changed"].empty() ? "" : " (new workers; the old ones finish their sessions)") +
        "\n";
    text += "  added:     " + join(answer["added"]) + "\n";
    text += "  removed:   " + join(answer["removed"]) +
            (answer["removed"].empty() ? "" : " (their workers finish their sessions)") + "\n";
    text += "  unchanged: " + join(answer["unchanged"]) + "\n";
    if (answer.contains("firewall")) {
        text += "  firewall:  " + answer["firewall"].value("message", std::string()) + "\n";
    }
    return text;
}

}  // namespace ctl
