#include "config/yaml_reader.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/printable.hpp"
#include "config/closest_key.hpp"
#include "config/duration.hpp"

namespace config {

namespace {

// The duplicate-key walk is bounded: aliases can make a small file expand
// into a huge tree, and a configuration never needs to be that deep or big.
constexpr int kMaxDepth = 32;
constexpr long kMaxNodes = 100000;

std::string quoted_key(std::string_view key) {
    return "'" + std::string(key) + "'";
}

std::string describe_duration(std::chrono::seconds value) {
    const auto seconds = value.count();
    if (seconds % 86400 == 0) {
        return std::to_string(seconds / 86400) + "d";
    }
    if (seconds % 3600 == 0) {
        return std::to_string(seconds / 3600) + "h";
    }
    if (seconds % 60 == 0) {
        return std::to_string(seconds / 60) + "m";
    }
    return std::to_string(seconds) + "s";
}

std::string describe_duration_ms(std::chrono::milliseconds value) {
    if (value.count() % 1000 != 0) {
        return std::to_string(value.count()) + "ms";
    }
    return describe_duration(std::chrono::duration_cast<std::chrono::seconds>(value));
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

struct Walk {
    ErrorList& errors;
    long budget = kMaxNodes;
    bool exhausted = false;
};

void walk_for_duplicates(const YAML::Node& node, int depth, Walk& walk) {
    if (walk.exhausted) {
        return;
    }
    if (--walk.budget < 0 || depth > kMaxDepth) {
        walk.exhausted = true;
        walk.errors.add(node.Mark(), "the document is too large or too deeply nested");
        return;
    }
    ErrorList& errors = walk.errors;
    if (node.IsSequence()) {
        for (const auto& item : node) {
            walk_for_duplicates(item, depth + 1, walk);
        }
    } else if (node.IsMap()) {
        std::map<std::string, YAML::Mark> first_seen;
        for (const auto& entry : node) {
            if (entry.first.IsScalar()) {
                const auto [it, inserted] =
                    first_seen.emplace(entry.first.Scalar(), entry.first.Mark());
                if (!inserted) {
                    errors.add(entry.first.Mark(), "duplicate key " + quoted_key(it->first) +
                                                       " (first at " + describe_mark(it->second) +
                                                       ")");
                }
            }
            walk_for_duplicates(entry.second, depth + 1, walk);
        }
    }
}

}  // namespace

void ErrorList::add(const YAML::Mark& mark, std::string message) {
    errors_.push_back(ConfigError{file_, std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1,
                                  common::printable(message)});
}

std::vector<ConfigError> ErrorList::take() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(errors_);
}

std::string describe_mark(const YAML::Mark& mark) {
    return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

std::string describe_line(const YAML::Mark& mark) {
    return "line " + std::to_string(mark.line + 1);
}

void report_duplicate_keys(const YAML::Node& node, ErrorList& errors) {
    Walk walk{errors};
    walk_for_duplicates(node, 0, walk);
}

void for_each_entry(const YAML::Node& map, ErrorList& errors, const EntryVisitor& visit) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
        if (!entry.first.IsScalar()) {
            errors.add(entry.first.Mark(), "a key must be a plain name, not a list or map");
            continue;
        }
        const std::string& key = entry.first.Scalar();
        if (seen.insert(key).second) {
            visit(key, entry.first, entry.second);
        }
    }
}

void report_unknown_key(const YAML::Node& key_node, const std::string& key,
                        std::span<const std::string_view> known, std::string_view elsewhere,
                        ErrorList& errors) {
    std::string message = "unknown key " + quoted_key(key);
    if (const auto suggestion = closest_key(key, known)) {
        message += " (did you mean " + quoted_key(*suggestion) + "?)";
    } else if (!elsewhere.empty()) {
        message += " here (it belongs in " + std::string(elsewhere) + ")";
    } else {
        message += " (known keys: " + join_choices(known) + ")";
    }
    errors.add(key_node.Mark(), std::move(message));
}

bool for_each_known_entry(const YAML::Node& map, std::span<const std::string_view> known,
                          ErrorList& errors, const EntryVisitor& visit) {
    bool all_known = true;
    for_each_entry(
        map, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                report_unknown_key(key_node, key, known, "", errors);
                all_known = false;
                return;
            }
            visit(key, key_node, value);
        });
    return all_known;
}

std::string join_choices(std::span<const std::string_view> words) {
    std::string text;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) {
            text += i + 1 == words.size() ? " or " : ", ";
        }
        text += words[i];
    }
    return text;
}

std::optional<std::string> read_scalar(const YAML::Node& value, std::string_view key,
                                       ErrorList& errors) {
    if (value.IsNull()) {
        errors.add(value.Mark(), quoted_key(key) + " has no value");
        return std::nullopt;
    }
    if (value.IsSequence()) {
        // "listen: [::1]:8021" is a YAML list: the brackets must be quoted.
        errors.add(value.Mark(), quoted_key(key) +
                                     " must be a single value, not a list (quote an IPv6 "
                                     "address in brackets: \"[::1]:8021\")");
        return std::nullopt;
    }
    if (!value.IsScalar()) {
        errors.add(value.Mark(), quoted_key(key) + " must be a single value, not a map");
        return std::nullopt;
    }
    if (value.Scalar().empty()) {
        errors.add(value.Mark(), quoted_key(key) + " is empty");
        return std::nullopt;
    }
    return value.Scalar();
}

std::optional<bool> read_bool(const YAML::Node& value, std::string_view key, ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    // YAML 1.1's spellings, which users of other tools write; nothing fancier.
    static const std::set<std::string_view> yes = {"true", "yes", "on"};
    static const std::set<std::string_view> no = {"false", "no", "off"};
    if (yes.contains(*text)) {
        return true;
    }
    if (no.contains(*text)) {
        return false;
    }
    errors.add(value.Mark(), quoted_key(key) + ": \"" + *text + "\" is not true or false");
    return std::nullopt;
}

std::optional<int> read_int(const YAML::Node& value, std::string_view key, int min, int max,
                            ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const bool digits = text->size() <= 9 && std::all_of(text->begin(), text->end(), [](char c) {
                            return c >= '0' && c <= '9';
                        });
    const long number = digits ? std::stol(*text) : -1;
    if (!digits || number < min || number > max) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text + "\" is not a number in " +
                                     std::to_string(min) + ".." + std::to_string(max));
        return std::nullopt;
    }
    return static_cast<int>(number);
}

namespace {

// A duration read with `parse`, checked against [min, max]; `examples`
// and `describe` word the errors.
template <typename Duration, typename Parse, typename Describe>
std::optional<Duration> read_bounded_duration(const YAML::Node& value, std::string_view key,
                                              Duration min, Duration max, ErrorList& errors,
                                              Parse parse, std::string_view examples,
                                              Describe describe) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const std::optional<Duration> duration = parse(*text);
    if (!duration) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text + "\" is not a duration (e.g. " +
                                     std::string(examples) + ")");
        return std::nullopt;
    }
    if (*duration < min || *duration > max) {
        errors.add(value.Mark(), quoted_key(key) + ": " + *text + " is out of range (" +
                                     describe(min) + ".." + describe(max) + ")");
        return std::nullopt;
    }
    return duration;
}

}  // namespace

std::optional<std::chrono::seconds> read_duration(const YAML::Node& value, std::string_view key,
                                                  std::chrono::seconds min,
                                                  std::chrono::seconds max, ErrorList& errors) {
    return read_bounded_duration(value, key, min, max, errors, parse_duration,
                                 "30, 30s, 5m, 24h, 1d", describe_duration);
}

std::optional<std::chrono::milliseconds> read_duration_ms(const YAML::Node& value,
                                                          std::string_view key,
                                                          std::chrono::milliseconds min,
                                                          std::chrono::milliseconds max,
                                                          ErrorList& errors) {
    return read_bounded_duration(value, key, min, max, errors, parse_duration_ms,
                                 "500ms, 2, 2s, 1m", describe_duration_ms);
}

std::optional<common::IpAddress> read_ip_address(const YAML::Node& value, std::string_view key,
                                                 ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    auto address = common::parse_ip_address(*text);
    if (!address) {
        errors.add(value.Mark(),
                   quoted_key(key) + ": \"" + *text + "\" is not an IPv4 or IPv6 address");
    }
    return address;
}

std::optional<common::Endpoint> read_ip_endpoint(const YAML::Node& value, std::string_view key,
                                                 std::string_view example, ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const auto parts = common::split_host_port(*text);
    const auto address = parts ? common::parse_ip_address(parts->host) : std::nullopt;
    const auto port = parts && parts->port ? common::parse_port(*parts->port) : std::nullopt;
    if (!address || !port) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text +
                                     "\" is not an IP ADDRESS:PORT (e.g. " + std::string(example) +
                                     ")");
        return std::nullopt;
    }
    return common::Endpoint(*address, *port);
}

std::optional<LogLevel> read_log_level(const YAML::Node& value, std::string_view key,
                                       ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const auto level = parse_log_level(*text);
    if (!level) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text +
                                     "\" is not a log level (err, warning, notice, info, debug "
                                     "or 0..7)");
    }
    return level;
}

std::optional<common::PortRange> read_port_range(const YAML::Node& value, std::string_view key,
                                                 ErrorList& errors) {
    const auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const auto range = common::parse_port_range(*text);
    if (!range) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text +
                                     "\" is not a port range LOW-HIGH (e.g. 49152-65535)");
    }
    return range;
}

std::optional<std::string> read_absolute_path(const YAML::Node& value, std::string_view key,
                                              ErrorList& errors) {
    auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    // A supervisor's working directory is not something to rely on.
    if (!text->starts_with('/') ||
        text->find_first_of(std::string_view("\0\n", 2)) != std::string::npos) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text + "\" is not an absolute path");
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> read_name(const YAML::Node& value, std::string_view key,
                                     std::size_t max_length, ErrorList& errors) {
    auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const bool valid = text->size() <= max_length && text->front() != '.' && text->front() != '-' &&
                       std::all_of(text->begin(), text->end(), is_name_char);
    if (!valid) {
        errors.add(value.Mark(), quoted_key(key) + ": \"" + *text +
                                     "\" is not a valid name (letters, digits, '_', '.', '-'; "
                                     "at most " +
                                     std::to_string(max_length) + " characters)");
        return std::nullopt;
    }
    return text;
}

std::optional<std::vector<std::string>> read_command(const YAML::Node& value, std::string_view key,
                                                     ErrorList& errors) {
    if (!value.IsSequence()) {
        errors.add(value.Mark(), quoted_key(key) +
                                     " must be a list of words, run without a shell "
                                     "(e.g. [/sbin/pfctl, -f, /etc/pf.conf]; [] for none)");
        return std::nullopt;
    }
    std::vector<std::string> argv;
    bool valid = true;
    for (const auto& word : value) {
        auto text = argv.empty() && valid ? read_absolute_path(word, key, errors)
                                          : read_scalar(word, key, errors);
        if (text) {
            argv.push_back(std::move(*text));
        } else {
            valid = false;
        }
    }
    return valid ? std::optional(std::move(argv)) : std::nullopt;
}

}  // namespace config
