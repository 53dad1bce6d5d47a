// 'health_check' (in 'defaults' or an instance) and the backend list: what
// ftpproxyd checks and where new sessions may go.
#include <algorithm>
#include <array>

#include "common/printable.hpp"
#include "config/sections.hpp"

namespace config {

namespace {

constexpr std::array<std::string_view, 6> kHealthKeys = {"interval", "timeout", "rise",
                                                         "fall",     "user",    "password"};
constexpr std::chrono::milliseconds kMinHealthTime{100};
constexpr std::chrono::milliseconds kMaxHealthInterval{3600 * 1000};
constexpr std::chrono::milliseconds kMaxHealthTimeout{60 * 1000};
constexpr int kMaxRiseFall = 10;

// The login goes on an FTP command line: no control characters, no spaces
// in the user name (USER takes one word).
std::optional<std::string> read_login_word(const YAML::Node& value, std::string_view key,
                                           bool spaces_allowed, ErrorList& errors) {
    auto text = read_scalar(value, key, errors);
    if (!text) return std::nullopt;
    const bool bad = text->empty() || std::any_of(text->begin(), text->end(), [&](char c) {
                         const auto u = static_cast<unsigned char>(c);
                         return u < 0x20 || u == 0x7f || (!spaces_allowed && c == ' ');
                     });
    if (bad) {
        errors.add(value.Mark(), "'health_check': '" + std::string(key) +
                                     "' must be one line of printable text" +
                                     (spaces_allowed ? "" : " without spaces"));
        return std::nullopt;
    }
    return text;
}

bool read_health_entry(const std::string& key, const YAML::Node& value, HealthCheck& check,
                       ErrorList& errors) {
    if (key == "interval") {
        return set_if_valid(check.interval, read_duration_ms(value, key, kMinHealthTime,
                                                             kMaxHealthInterval, errors));
    }
    if (key == "timeout") {
        return set_if_valid(
            check.timeout, read_duration_ms(value, key, kMinHealthTime, kMaxHealthTimeout, errors));
    }
    if (key == "rise")
        return set_if_valid(check.rise, read_int(value, key, 1, kMaxRiseFall, errors));
    if (key == "fall")
        return set_if_valid(check.fall, read_int(value, key, 1, kMaxRiseFall, errors));
    if (key == "user") return set_if_valid(check.user, read_login_word(value, key, false, errors));
    return set_if_valid(check.password, read_login_word(value, key, true, errors));
}

}  // namespace

// `off` (or false) turns checks off; a map changes the given keys of what
// 'defaults' (or the built-in defaults) set, and turns checks on.
std::optional<HealthCheck> read_health_check(const YAML::Node& value, HealthCheck check,
                                             ErrorList& errors) {
    if (value.IsScalar()) {
        const std::string text = value.Scalar();
        if (text == "off" || text == "false") {
            check.enabled = false;
            return check;
        }
        if (text == "on" || text == "true") {
            check.enabled = true;
            return check;
        }
    }
    if (!value.IsMap()) {
        errors.add(value.Mark(),
                   "'health_check' is 'off', 'on' or a map (interval, timeout, rise, fall, user, "
                   "password)");
        return std::nullopt;
    }
    bool entries_valid = true;
    check.enabled = true;
    const bool known = for_each_known_entry(
        value, kHealthKeys, errors,
        [&](const std::string& key, const YAML::Node&, const YAML::Node& entry) {
            entries_valid = read_health_entry(key, entry, check, errors) && entries_valid;
        });
    bool valid = known && entries_valid;
    if (valid && !check.password.empty() && check.user.empty()) {
        errors.add(value.Mark(), "'health_check': 'password' without 'user'");
        valid = false;
    }
    if (!valid) return std::nullopt;
    return check;
}

}  // namespace config
