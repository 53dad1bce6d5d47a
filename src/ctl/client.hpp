// One request to ftpproxyd over its control socket, one answer back.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace ctl {

// ftpproxyd cannot be asked: not running, no permission, no answer. The
// message says which, and what to do about it.
struct Unreachable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The message for a failed connect() to `path` with `error` (an errno).
std::string describe_connect_error(const std::string& path, int error);

nlohmann::json request(const std::string& socket_path, const nlohmann::json& message,
                       std::chrono::seconds timeout);

}  // namespace ctl
