// The protocol between ftpproxyctl and ftpproxyd: over the control socket,
// one JSON object per line each way, a request and its answer.
//
//   {"command":"status","names":["ftp01"]}       names: empty = all
//   {"command":"start"|"stop"|"restart"|"drain","names":["ftp01"]|["all"]}
//   {"command":"reload"}
//   {"command":"rules","syntax":"pf"|"nft"}       syntax optional
//   {"command":"info"}                            config file, socket, pid
//
// Every answer has "ok": true, or "ok": false and "error": one line a person
// can act on; commands add their own fields (see docs/ftpproxyctl.md).
#pragma once

#include <cstddef>
#include <string_view>

namespace supervisor::control {

inline constexpr std::size_t kMaxLine = 1 << 20;  // a status of 20000 instances fits

inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kStart = "start";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kRestart = "restart";
inline constexpr std::string_view kDrain = "drain";
inline constexpr std::string_view kReload = "reload";
inline constexpr std::string_view kRules = "rules";
inline constexpr std::string_view kInfo = "info";

inline constexpr std::string_view kAll = "all";

// A request's fields; control_request.hpp checks their types.
inline constexpr std::string_view kFieldCommand = "command";
inline constexpr std::string_view kFieldNames = "names";
inline constexpr std::string_view kFieldSyntax = "syntax";

}  // namespace supervisor::control
