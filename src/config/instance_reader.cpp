// The keys of 'defaults' and of each instance, into an InstanceDraft.
#include <algorithm>
#include <utility>

#include "config/sections.hpp"

namespace config {

namespace {

constexpr std::size_t kMaxInstanceName = 32;
constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1 on Linux and the BSDs
constexpr std::chrono::seconds kMaxIdleTimeout{30 * 86400};
constexpr std::chrono::seconds kMaxDataTimeout{3600};
constexpr std::chrono::seconds kMaxServerTimeout{3600};

constexpr std::array<std::pair<std::string_view, Mode>, 2> kModes = {
    {{"reverse", Mode::reverse}, {"forward", Mode::forward}}};
constexpr std::array<std::pair<std::string_view, Relay>, 2> kRelays = {
    {{"splice", Relay::splice}, {"copy", Relay::copy}}};
constexpr std::array<std::pair<std::string_view, DataPath>, 2> kDataPaths = {
    {{"relay", DataPath::relay}, {"kernel", DataPath::kernel}}};

std::string bad_value(std::string_view key, const std::string& text, std::string_view problem) {
    return "'" + std::string(key) + "': \"" + text + "\" " + std::string(problem);
}

// Splits "HOST[:PORT]" and checks the port; the host is checked by the caller.
struct SplitEndpoint {
    std::string text;
    std::string host;
    std::optional<std::uint16_t> port;
};

std::optional<SplitEndpoint> read_endpoint(const YAML::Node& value, std::string_view key,
                                           std::string_view example, ErrorList& errors) {
    auto text = read_scalar(value, key, errors);
    if (!text) {
        return std::nullopt;
    }
    const auto parts = common::split_host_port(*text);
    if (!parts || parts->host.empty()) {
        errors.add(
            value.Mark(),
            bad_value(key, *text, "is not ADDRESS:PORT (e.g. " + std::string(example) + ")"));
        return std::nullopt;
    }
    SplitEndpoint endpoint{*text, std::string(parts->host), std::nullopt};
    if (parts->port) {
        endpoint.port = common::parse_port(*parts->port);
        if (!endpoint.port) {
            errors.add(value.Mark(), bad_value(key, *text, "has a bad port (1..65535)"));
            return std::nullopt;
        }
    }
    return endpoint;
}

std::optional<common::IpAddress> endpoint_address(const YAML::Node& value, std::string_view key,
                                                  const SplitEndpoint& endpoint,
                                                  ErrorList& errors) {
    auto address = common::parse_ip_address(endpoint.host);
    if (!address) {
        errors.add(value.Mark(),
                   bad_value(key, endpoint.text,
                             "needs an IPv4 or IPv6 address, not \"" + endpoint.host + "\""));
    }
    return address;
}

bool read_listen(const YAML::Node& value, Instance& instance, ErrorList& errors) {
    const auto endpoint = read_endpoint(value, "listen", "127.0.0.1:8021", errors);
    if (!endpoint) {
        return false;
    }
    const auto address = endpoint_address(value, "listen", *endpoint, errors);
    if (address && !endpoint->port) {
        errors.add(value.Mark(), bad_value("listen", endpoint->text,
                                           "has no port (e.g. " + endpoint->text + ":8021)"));
        return false;
    }
    if (!address) {
        return false;
    }
    if (address->is_multicast()) {
        errors.add(value.Mark(), bad_value("listen", endpoint->text, "is a multicast address"));
        return false;
    }
    instance.listen_address = *address;
    instance.listen_port = *endpoint->port;
    return true;
}

bool read_public(const YAML::Node& value, Instance& instance, ErrorList& errors) {
    const auto endpoint = read_endpoint(value, "public", "198.18.0.1:21", errors);
    if (!endpoint) {
        return false;
    }
    const auto address = endpoint_address(value, "public", *endpoint, errors);
    if (!address) {
        return false;
    }
    if (address->is_unspecified() || address->is_multicast()) {
        errors.add(value.Mark(),
                   bad_value("public", endpoint->text, "is not an address clients can connect to"));
        return false;
    }
    instance.public_address = *address;
    instance.public_port = endpoint->port.value_or(kFtpPort);
    return true;
}

std::optional<Backend> read_one_backend(const YAML::Node& value, ErrorList& errors) {
    const auto endpoint = read_endpoint(value, "backend", "192.0.2.10:21", errors);
    if (!endpoint) {
        return std::nullopt;
    }
    Backend backend{endpoint->host, endpoint->port.value_or(kFtpPort)};
    if (const auto address = common::parse_ip_address(endpoint->host)) {
        backend.host = address->to_string();  // canonical, so equal backends compare equal
    } else if (!common::is_host_name(endpoint->host)) {
        // Name the host alone when a port came with it.
        const std::string host =
            endpoint->text == endpoint->host ? "" : ": \"" + endpoint->host + "\"";
        errors.add(value.Mark(), "'backend': \"" + endpoint->text + "\"" + host +
                                     " is neither an IP address nor a host name");
        return std::nullopt;
    }
    return backend;
}

// One backend, or a list of them in order of preference.
bool read_backend(const YAML::Node& value, Instance& instance, ErrorList& errors) {
    instance.backends.clear();
    if (!value.IsSequence()) {
        auto backend = read_one_backend(value, errors);
        if (backend) instance.backends.push_back(std::move(*backend));
        return backend.has_value();
    }
    if (value.size() == 0 || value.size() > kMaxBackends) {
        errors.add(value.Mark(), "'backend': a list of 1.." + std::to_string(kMaxBackends) +
                                     " backends, in order of preference");
        return false;
    }
    bool valid = true;
    for (const YAML::Node& item : value) {
        auto backend = read_one_backend(item, errors);
        if (!backend) {
            valid = false;
        } else if (std::find(instance.backends.begin(), instance.backends.end(), *backend) !=
                   instance.backends.end()) {
            errors.add(item.Mark(),
                       "'backend': " + common::format_host_port(backend->host, backend->port) +
                           " is listed twice");
            valid = false;
        } else {
            instance.backends.push_back(std::move(*backend));
        }
    }
    return valid;
}

std::optional<common::PortRange> read_passive_ports(const YAML::Node& value, ErrorList& errors) {
    auto range = read_port_range(value, "passive_ports", errors);
    if (range && range->low < common::kMinPassivePort) {
        errors.add(value.Mark(), "'passive_ports': ports below " +
                                     std::to_string(common::kMinPassivePort) +
                                     " need a privilege the worker gives up after start");
        range.reset();
    }
    return range;
}

// The worker refuses --relay splice where splice(2) does not exist.
std::optional<Relay> read_relay(const YAML::Node& value, ErrorList& errors) {
    const auto relay = read_choice<Relay>(value, "relay", kRelays, errors);
    if (relay == Relay::splice && !kSpliceAvailable) {
        errors.add(value.Mark(), "'relay': splice(2) exists only on Linux (use relay: copy)");
        return std::nullopt;
    }
    return relay;
}

// Returns false when `key` is no setting; records a present but bad value in
// draft.invalid (its error is already reported).
bool read_setting(const std::string& key, const YAML::Node& value, InstanceDraft& draft,
                  ErrorList& errors) {
    Instance& instance = draft.instance;
    bool valid = true;
    if (key == "mode") {
        valid = set_if_valid(instance.mode, read_choice<Mode>(value, key, kModes, errors));
    } else if (key == "interface") {
        valid = set_if_valid(instance.interface, read_name(value, key, kMaxInterfaceName, errors));
    } else if (key == "source") {
        instance.source_address = read_ip_address(value, key, errors);
        valid = instance.source_address.has_value();
    } else if (key == "max_sessions") {
        valid =
            set_if_valid(instance.max_sessions, read_int(value, key, 1, kMaxSessionsLimit, errors));
    } else if (key == "idle_timeout") {
        valid = set_if_valid(
            instance.idle_timeout,
            read_duration(value, key, std::chrono::seconds{1}, kMaxIdleTimeout, errors));
    } else if (key == "data_timeout") {
        valid = set_if_valid(
            instance.data_timeout,
            read_duration(value, key, std::chrono::seconds{1}, kMaxDataTimeout, errors));
    } else if (key == "server_timeout") {
        valid = set_if_valid(
            instance.server_timeout,
            read_duration(value, key, std::chrono::seconds{1}, kMaxServerTimeout, errors));
    } else if (key == "passive_ports") {
        instance.passive_ports = read_passive_ports(value, errors);
        valid = instance.passive_ports.has_value();
    } else if (key == "anonymous_only") {
        valid = set_if_valid(instance.anonymous_only, read_bool(value, key, errors));
    } else if (key == "log_commands") {
        valid = set_if_valid(instance.log_commands, read_bool(value, key, errors));
    } else if (key == "passive_to_server") {
        valid = set_if_valid(instance.passive_to_server, read_bool(value, key, errors));
    } else if (key == "relay") {
        valid = set_if_valid(instance.relay, read_relay(value, errors));
    } else if (key == "data_path") {
        valid =
            set_if_valid(instance.data_path, read_choice<DataPath>(value, key, kDataPaths, errors));
    } else if (key == "relay_pipe_size") {
        valid = set_if_valid(instance.relay_pipe_size,
                             read_int(value, key, kMinRelayPipeSize, kMaxRelayPipeSize, errors));
    } else if (key == "log_level") {
        valid = set_if_valid(instance.log_level, read_log_level(value, key, errors));
    } else if (key == "health_check") {
        valid = set_if_valid(instance.health_check,
                             read_health_check(value, instance.health_check, errors));
    } else if (key == "tls") {
        valid = read_tls(value, draft, errors);
    } else {
        return false;
    }
    draft.marks[key] = value.Mark();
    draft.own.insert(key);
    if (!valid) {
        draft.invalid.insert(key);
    }
    return true;
}

bool read_identity(const std::string& key, const YAML::Node& value, InstanceDraft& draft,
                   ErrorList& errors) {
    Instance& instance = draft.instance;
    bool valid = true;
    if (key == "name") {
        valid = set_if_valid(instance.name, read_name(value, key, kMaxInstanceName, errors));
    } else if (key == "listen") {
        valid = read_listen(value, instance, errors);
    } else if (key == "public") {
        valid = read_public(value, instance, errors);
    } else if (key == "backend") {
        valid = read_backend(value, instance, errors);
    } else {
        return false;
    }
    draft.marks[key] = value.Mark();
    draft.own.insert(key);
    if (!valid) {
        draft.invalid.insert(key);
    }
    return true;
}

}  // namespace

void read_defaults(const YAML::Node& map, InstanceDraft& defaults, ErrorList& errors) {
    for_each_entry(
        map, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            if (read_setting(key, value, defaults, errors)) {
                return;
            }
            if (std::find(kIdentityKeys.begin(), kIdentityKeys.end(), key) != kIdentityKeys.end()) {
                errors.add(key_node.Mark(), "'" + key +
                                                "' cannot be a default: it must differ per "
                                                "instance, so set it in each instance");
                return;
            }
            const bool global =
                std::find(kGlobalKeys.begin(), kGlobalKeys.end(), key) != kGlobalKeys.end();
            report_unknown_key(key_node, key, kSettingKeys, global ? "'global'" : "", errors);
        });
    check_relay(defaults, errors);
}

InstanceDraft read_instance(const YAML::Node& map, const InstanceDraft& defaults,
                            ErrorList& errors) {
    InstanceDraft draft = defaults;
    draft.at = map.Mark();
    draft.own.clear();
    std::vector<std::string_view> known(kIdentityKeys.begin(), kIdentityKeys.end());
    known.insert(known.end(), kSettingKeys.begin(), kSettingKeys.end());
    for_each_entry(
        map, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            // A value set here replaces the default, and so does its validity.
            draft.invalid.erase(key);
            if (read_identity(key, value, draft, errors) ||
                read_setting(key, value, draft, errors)) {
                return;
            }
            const bool global =
                std::find(kGlobalKeys.begin(), kGlobalKeys.end(), key) != kGlobalKeys.end();
            report_unknown_key(key_node, key, known, global ? "'global'" : "", errors);
        });
    return draft;
}

}  // namespace config
