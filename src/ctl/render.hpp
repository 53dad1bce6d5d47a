// What ftpproxyctl prints: ftpproxyd's JSON answers made readable. Pure
// functions (JSON in, text out), so the unit tests pin the formats.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ctl {

// 45s, 12m05s, 3h12m, 2d04h
std::string format_duration(std::int64_t seconds);

// The status table (one row per instance, a header, fixed columns:
// NAME STATE PID UPTIME LISTEN PUBLIC BACKEND SESSIONS RESTARTS LAST-EXIT),
// the backends that are not up, the configuration file and its sha256, then
// one summary line (always the last). '-' where there is nothing to show.
std::string render_status(const nlohmann::json& status);
std::string render_summary(const nlohmann::json& status);
// kExitOk when every instance in the answer is RUNNING, else kExitNotRunning.
// whole_node: the status of every instance (no names given); then, in a
// cluster (a demotion method set), a node that is not fit to serve (an
// instance without a healthy backend, a worker that does not answer) is not
// "all well" either, whatever the states say.
int status_exit_code(const nlohmann::json& status, bool whole_node = false);

// start/stop/restart/drain: "NAME: message" per instance.
std::string render_results(const nlohmann::json& answer);
// reload: what changed, or every error of the file.
std::string render_reload(const nlohmann::json& answer);
// `sessions`: one line per session under a header, per instance; a worker
// that did not answer is named.
std::string render_sessions(const nlohmann::json& answer);

}  // namespace ctl
