// The protocol between ftpproxyctl and ftpproxyd: over the control socket,
// one JSON object per line each way, a request and its answer.
//
//   {"command":"status","names":["ftp01"]}       names: empty = all
//   {"command":"start"|"stop"|"restart"|"drain","names":["ftp01"]|["all"]}
//   {"command":"reload"}
//   {"command":"rules","syntax":"pf"|"nft"}       syntax optional
//   {"command":"info"}                            config file, socket, pid
//   {"command":"carp-event","role":"master"|"backup"|"fault","subject":"198.18.0.1"}
//                                                 subject optional: the node
//   {"command":"failover","wait":10}              wait optional (seconds)
//   {"command":"failback"}
//   {"command":"sessions","names":["ftp01"]}     names: empty = all
//   {"command":"kill","names":["ftp01"],"session":"4242.7"}
//
// Every answer has "ok": true, or "ok": false and "error": one line a person
// can act on; commands add their own fields (see docs/ftpproxyctl.md).
// ftpproxyd (src/supervisor) answers it, ftpproxyctl (src/ctl) asks: both
// take the names and shapes from here.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace common::control {

inline constexpr std::size_t kMaxLine = 1 << 20;  // a status of 20000 instances fits

inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kStart = "start";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kRestart = "restart";
inline constexpr std::string_view kDrain = "drain";
inline constexpr std::string_view kReload = "reload";
inline constexpr std::string_view kRules = "rules";
inline constexpr std::string_view kInfo = "info";
// Live sessions: the list, and ending one with a 421.
inline constexpr std::string_view kSessions = "sessions";
inline constexpr std::string_view kKill = "kill";
inline constexpr std::string_view kFieldSession = "session";  // kill: "PID.ID" or "ID"
// The cluster: the role the cluster layer gave this node, and a planned move.
inline constexpr std::string_view kCarpEvent = "carp-event";
inline constexpr std::string_view kFailover = "failover";
inline constexpr std::string_view kFailback = "failback";
inline constexpr std::string_view kRoleMaster = "master";
inline constexpr std::string_view kRoleBackup = "backup";
inline constexpr std::string_view kRoleFault = "fault";
bool is_role(std::string_view role);

inline constexpr std::string_view kAll = "all";

// start, stop, restart, drain: the commands that act on named instances.
bool is_instance_command(std::string_view command);

// A request's fields; request_error() checks their types.
inline constexpr std::string_view kFieldCommand = "command";
inline constexpr std::string_view kFieldNames = "names";
inline constexpr std::string_view kFieldSyntax = "syntax";
inline constexpr std::string_view kFieldRole = "role";
inline constexpr std::string_view kFieldSubject = "subject";
inline constexpr std::string_view kFieldWait = "wait";  // seconds, 1..kMaxFailoverWait
inline constexpr int kMaxFailoverWait = 300;

// Every answer's fields.
inline constexpr std::string_view kFieldOk = "ok";
inline constexpr std::string_view kFieldError = "error";

// The request for `command`; "names" and "syntax" only when given.
nlohmann::json make_request(std::string_view command, const std::vector<std::string>& names = {},
                            const std::optional<std::string>& syntax = std::nullopt);

// The edge of the control socket: a request's fields are checked before any
// handler reads them, so that a wrong type gets an answer in our words
// ("names" must be a list of strings) rather than the JSON library's.
// Why `request` (a JSON object) is not a request of this protocol:
// "command" missing or not a string, "names" not a list of strings,
// "syntax" not a string, or a field we do not know. Nothing when it is one.
std::optional<std::string> request_error(const nlohmann::json& request);

// A request or an answer as its line on the socket, "\n" included. Text
// that is not UTF-8 (an instance name typed on a Latin-1 terminal) is sent
// with U+FFFD in its place rather than refused: both ends encode with this.
std::string encode_line(const nlohmann::json& message);
// A line (without its "\n") as a request or an answer: a JSON object, or
// nothing when it is not one.
std::optional<nlohmann::json> decode_line(std::string_view line);

// {"ok": false, "error": message}
nlohmann::json error_answer(std::string message);
// Whether an answer says "ok": true.
bool answer_ok(const nlohmann::json& answer);

}  // namespace common::control
