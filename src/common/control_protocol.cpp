#include "common/control_protocol.hpp"

#include "common/printable.hpp"

namespace common::control {

namespace {

using nlohmann::json;

constexpr const char* kCommands =
    "status, start, stop, restart, drain, reload, rules, info, carp-event, failover, failback, "
    "sessions or kill";

// "a number", "an array", "null" ... for the message.
std::string a_type(const json& value) {
    if (value.is_null()) return "null";
    const std::string name = value.type_name();
    const bool vowel = name.find_first_of("aeiou") == 0;
    return (vowel ? "an " : "a ") + name;
}

// A field that must be a string, if present.
std::optional<std::string> string_field_error(const json& request, std::string_view field,
                                              std::string_view what) {
    const auto value = request.find(field);
    if (value == request.end() || value->is_string()) return std::nullopt;
    return "\"" + std::string(field) + "\" must be a string (" + std::string(what) + "), not " +
           a_type(*value);
}

}  // namespace

json make_request(std::string_view command, const std::vector<std::string>& names,
                  const std::optional<std::string>& syntax) {
    json request = {{kFieldCommand, command}};
    if (!names.empty()) request[kFieldNames] = names;
    if (syntax) request[kFieldSyntax] = *syntax;
    return request;
}

bool is_role(std::string_view role) {
    return role == kRoleMaster || role == kRoleBackup || role == kRoleFault;
}

bool is_instance_command(std::string_view command) {
    return command == kStart || command == kStop || command == kRestart || command == kDrain;
}

std::string encode_line(const json& message) {
    return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<json> decode_line(std::string_view line) {
    json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded() || !message.is_object()) return std::nullopt;
    return message;
}

json error_answer(std::string message) {
    return {{kFieldOk, false}, {kFieldError, std::move(message)}};
}

bool answer_ok(const json& answer) {
    return answer.value(kFieldOk, false);
}

std::optional<std::string> request_error(const json& request) {
    for (const auto& [key, value] : request.items()) {
        if (key != kFieldCommand && key != kFieldNames && key != kFieldSyntax &&
            key != kFieldRole && key != kFieldSubject && key != kFieldWait &&
            key != kFieldSession) {
            return "unknown field \"" + printable(key) +
                   "\" (a request has \"command\", and \"names\", \"syntax\", \"role\", "
                   "\"subject\", \"wait\" or \"session\")";
        }
    }
    const auto command = request.find(kFieldCommand);
    if (command == request.end()) {
        return std::string("\"command\" is missing: one of ") + kCommands;
    }
    if (!command->is_string()) {
        return "\"command\" must be a string (" + std::string(kCommands) + "), not " +
               a_type(*command);
    }
    if (const auto names = request.find(kFieldNames); names != request.end()) {
        if (!names->is_array()) {
            return "\"names\" must be a list of strings (instance names or \"all\"), not " +
                   a_type(*names);
        }
        for (std::size_t i = 0; i < names->size(); ++i) {
            if (!(*names)[i].is_string()) {
                return "\"names\" must be a list of strings: item " + std::to_string(i + 1) +
                       " is " + a_type((*names)[i]);
            }
        }
    }
    for (const auto& [field, what] : {std::pair{kFieldSyntax, "\"pf\" or \"nft\""},
                                      std::pair{kFieldRole, "\"master\", \"backup\" or \"fault\""},
                                      std::pair{kFieldSubject, "a VIP or an instance name"},
                                      std::pair{kFieldSession, "a session (PID.ID or ID)"}}) {
        if (auto error = string_field_error(request, field, what)) return error;
    }
    if (const auto wait = request.find(kFieldWait); wait != request.end()) {
        if (!wait->is_number_integer() || *wait < 1 || *wait > kMaxFailoverWait) {
            return "\"wait\" must be a number of seconds, 1.." + std::to_string(kMaxFailoverWait);
        }
    }
    return std::nullopt;
}

}  // namespace common::control
