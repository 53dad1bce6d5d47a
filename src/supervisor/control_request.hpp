// The edge of the control socket: a request's fields are checked before any
// handler reads them, so that a wrong type gets an answer in our words
// ("names" must be a list of strings) rather than the JSON library's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace supervisor::control {

// Why `request` (a JSON object) is not a request of control_protocol.hpp:
// "command" missing or not a string, "names" not a list of strings,
// "syntax" not a string, or a field we do not know. Nothing when it is one.
std::optional<std::string> request_error(const nlohmann::json& request);

}  // namespace supervisor::control
