// `ftpproxyctl sessions`: the live sessions of each instance, a line each.
#include <fmt/format.h>

#include <cmath>
#include <string>

#include "ctl/render.hpp"

namespace ctl {
namespace {

using nlohmann::json;

std::string text_or_dash(const json& value) {
    return value.is_string() ? value.get<std::string>() : "-";
}

// 1536 -> "1.5 KiB": an operator reads sizes, not byte counts.
std::string size(double bytes) {
    static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{:.0f} B", bytes)
                     : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string transfer_text(const json& transfer) {
    if (!transfer.is_object()) return "-";
    return fmt::format("{} {} at {}/s", transfer.value("command", std::string()),
                       size(transfer.value("bytes", 0.0)), size(transfer.value("rate", 0.0)));
}

std::string seconds_text(const json& value) {
    return format_duration(static_cast<std::int64_t>(std::floor(value.get<double>())));
}

}  // namespace

std::string render_sessions(const json& answer) {
    std::string out;
    bool draining = false;
    for (const json& instance : answer.value("instances", json::array())) {
        const json sessions = instance.value("sessions", json::array());
        out += fmt::format("{}: {} session{}\n", instance.value("name", std::string()),
                           sessions.size(), sessions.size() == 1 ? "" : "s");
        for (const json& pid : instance.value("silent_workers", json::array()))
            out += fmt::format("  worker {} did not answer: its sessions are not listed\n",
                               pid.get<long long>());
        if (sessions.empty()) continue;
        out += fmt::format("  {:<12} {:<22} {:<22} {:<12} {:<9} {:>6} {:>6}  {}\n", "SESSION",
                           "CLIENT", "SERVER", "USER", "STATE", "AGE", "IDLE", "TRANSFER");
        for (const json& s : sessions) {
            draining = draining || s.value("draining", false);
            out += fmt::format(
                "  {:<12} {:<22} {:<22} {:<12} {:<9} {:>6} {:>6}  {}\n", text_or_dash(s["id"]),
                text_or_dash(s["client"]), text_or_dash(s["server"]), text_or_dash(s["user"]),
                text_or_dash(s["state"]) + (s.value("draining", false) ? "*" : ""),
                seconds_text(s["age"]), seconds_text(s["idle"]), transfer_text(s["transfer"]));
        }
    }
    if (draining) out += "(* a draining worker's session: it ends by itself or at drain_timeout)\n";
    return out;
}

}  // namespace ctl
