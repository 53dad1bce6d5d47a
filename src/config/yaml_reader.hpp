// Typed reading of YAML values for the loader. Each reader either returns the
// value or records one error at the value's position and returns nothing, so
// the loader can go on and report every problem of a file in one run.
// Internal to the config library.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net_address.hpp"
#include "config/error.hpp"
#include "config/log_level.hpp"

namespace config {

class ErrorList {
  public:
    explicit ErrorList(std::string file) : file_(std::move(file)) {}

    // yaml-cpp marks are 0-based (null_mark() is -1); errors are 1-based.
    void add(const YAML::Mark& mark, std::string message);
    bool empty() const { return errors_.empty(); }
    // Sorted by position, so the report reads top to bottom like the file.
    std::vector<ConfigError> take();

  private:
    std::string file_;
    std::vector<ConfigError> errors_;
};

// "line 4, column 5", for messages that point at a second place.
std::string describe_mark(const YAML::Mark& mark);
// "line 4", where the column would only clutter the message.
std::string describe_line(const YAML::Mark& mark);

// Reports every key that appears twice in one map, anywhere in the tree:
// yaml-cpp keeps both and lookups silently take the first.
void report_duplicate_keys(const YAML::Node& node, ErrorList& errors);

// Calls `visit(key, key_node, value)` for each entry of `map` in file order,
// once per key (repeats are reported by report_duplicate_keys). Non-scalar
// keys are reported and skipped. Precondition: map.IsMap().
using EntryVisitor = std::function<void(const std::string& key, const YAML::Node& key_node,
                                        const YAML::Node& value)>;
void for_each_entry(const YAML::Node& map, ErrorList& errors, const EntryVisitor& visit);

// "unknown key 'lsiten' (did you mean 'listen'?)", with `known` the keys of
// this map. `elsewhere` names where the key would be valid, if anywhere.
void report_unknown_key(const YAML::Node& key_node, const std::string& key,
                        std::span<const std::string_view> known, std::string_view elsewhere,
                        ErrorList& errors);

// for_each_entry over a map whose keys all belong to `known`, such as
// 'health_check': an unknown key is reported (report_unknown_key) and not
// visited. Returns whether every key was known.
bool for_each_known_entry(const YAML::Node& map, std::span<const std::string_view> known,
                          ErrorList& errors, const EntryVisitor& visit);

// `key` names the setting in messages.
std::optional<std::string> read_scalar(const YAML::Node& value, std::string_view key,
                                       ErrorList& errors);
std::optional<bool> read_bool(const YAML::Node& value, std::string_view key, ErrorList& errors);
std::optional<int> read_int(const YAML::Node& value, std::string_view key, int min, int max,
                            ErrorList& errors);
std::optional<std::chrono::seconds> read_duration(const YAML::Node& value, std::string_view key,
                                                  std::chrono::seconds min,
                                                  std::chrono::seconds max, ErrorList& errors);
// The same with "500ms" allowed.
std::optional<std::chrono::milliseconds> read_duration_ms(const YAML::Node& value,
                                                          std::string_view key,
                                                          std::chrono::milliseconds min,
                                                          std::chrono::milliseconds max,
                                                          ErrorList& errors);
std::optional<common::IpAddress> read_ip_address(const YAML::Node& value, std::string_view key,
                                                 ErrorList& errors);
// "ADDRESS:PORT" ("[v6]:PORT" for IPv6): an IP literal and a port, both
// required; `example` shows the form in the error.
std::optional<common::Endpoint> read_ip_endpoint(const YAML::Node& value, std::string_view key,
                                                 std::string_view example, ErrorList& errors);
std::optional<common::PortRange> read_port_range(const YAML::Node& value, std::string_view key,
                                                 ErrorList& errors);
std::optional<std::string> read_absolute_path(const YAML::Node& value, std::string_view key,
                                              ErrorList& errors);
std::optional<LogLevel> read_log_level(const YAML::Node& value, std::string_view key,
                                       ErrorList& errors);
// A name made of letters, digits, '_', '.', '-', starting with a letter,
// digit or '_', at most `max_length` long (instance, interface, user names).
std::optional<std::string> read_name(const YAML::Node& value, std::string_view key,
                                     std::size_t max_length, ErrorList& errors);
// An argv list: non-empty strings, the first an absolute path.
std::optional<std::vector<std::string>> read_command(const YAML::Node& value, std::string_view key,
                                                     ErrorList& errors);

// Stores a value that was read successfully; returns whether there was one.
template <typename T>
bool set_if_valid(T& target, std::optional<T> value) {
    if (value) {
        target = std::move(*value);
    }
    return value.has_value();
}

// One of a fixed set of words, e.g. mode: reverse|forward.
template <typename Enum>
using Choices = std::span<const std::pair<std::string_view, Enum>>;

std::string join_choices(std::span<const std::string_view> words);

template <typename Enum>
std::optional<Enum> read_choice(const YAML::Node& value, std::string_view key,
                                Choices<Enum> choices, ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    std::vector<std::string_view> words;
    for (const auto& [word, choice] : choices) {
        if (*text == word) {
            return choice;
        }
        words.push_back(word);
    }
    errors.add(value.Mark(), "'" + std::string(key) + "': \"" + *text + "\" is not one of " +
                                 join_choices(words));
    return std::nullopt;
}

}  // namespace config
