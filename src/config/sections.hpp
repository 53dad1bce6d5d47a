// The loader's pieces, one per part of the file: the global section, the
// instance settings (shared by 'defaults' and each instance), and the checks
// that need a whole instance or all of them. Internal to the config library.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "config/yaml_reader.hpp"

namespace config {

// The schema's keys, in the order docs/configuration.md lists them.
inline constexpr std::array<std::string_view, 4> kTopKeys = {"global", "defaults", "instances",
                                                             "cluster"};
inline constexpr std::array<std::string_view, 7> kClusterKeys = {
    "demotion",       "track_file",      "carp_group", "demote_by",
    "demote_command", "promote_command", "handoff"};
inline constexpr std::array<std::string_view, 1> kHandoffKeys = {"nodes"};
inline constexpr std::array<std::string_view, 13> kGlobalKeys = {
    "control_socket", "control_group", "runtime_dir",   "worker_binary", "worker_user",
    "log_level",      "firewall",      "pf_syntax",     "rules_file",    "reload_command",
    "drain_timeout",  "kernel_mark",   "metrics_listen"};
// Allowed in 'defaults' and in each instance.
inline constexpr std::array<std::string_view, 17> kSettingKeys = {"mode",
                                                                  "interface",
                                                                  "source",
                                                                  "max_sessions",
                                                                  "idle_timeout",
                                                                  "data_timeout",
                                                                  "server_timeout",
                                                                  "passive_ports",
                                                                  "anonymous_only",
                                                                  "log_commands",
                                                                  "passive_to_server",
                                                                  "relay",
                                                                  "relay_pipe_size",
                                                                  "data_path",
                                                                  "log_level",
                                                                  "health_check",
                                                                  "tls"};
// Only in an instance: they identify it, so a default would make duplicates.
inline constexpr std::array<std::string_view, 4> kIdentityKeys = {"name", "listen", "public",
                                                                  "backend"};

// 'health_check': `check` is what applies so far ('defaults' or built in).
std::optional<HealthCheck> read_health_check(const YAML::Node& value, HealthCheck check,
                                             ErrorList& errors);

// 'cluster': how the node tells CARP/VRRP it cannot serve.
void read_cluster(const YAML::Node& map, ClusterSettings& cluster, ErrorList& errors);

void read_global(const YAML::Node& map, GlobalSettings& global, ErrorList& errors);

// An instance while it is being read: the values, and where each key was
// written (in the instance or in 'defaults'), so that checks made after
// merging still point at the right line.
struct InstanceDraft {
    Instance instance;
    YAML::Mark at;
    std::map<std::string, YAML::Mark, std::less<>> marks;  // every key present
    std::set<std::string, std::less<>> invalid;            // present, but already reported
    std::set<std::string, std::less<>> own;  // written in this map, not taken from 'defaults'

    // Present and valid: checks that combine keys only look at these.
    bool has(std::string_view key) const { return marks.contains(key) && !invalid.contains(key); }
    YAML::Mark mark(std::string_view key) const {
        const auto it = marks.find(key);
        return it != marks.end() ? it->second : at;
    }
};

void read_defaults(const YAML::Node& map, InstanceDraft& defaults, ErrorList& errors);
// 'tls': records each key it sets in the draft as "tls.KEY" (tls_reader.cpp).
bool read_tls(const YAML::Node& value, InstanceDraft& draft, ErrorList& errors);
// The TLS settings with the defaults that follow from other keys applied
// (the key file, client: optional with a certificate); files_sha256 unset.
TlsSettings finished_tls(const InstanceDraft& draft);
class TlsFiles;
// The keys of 'tls' together, with the mode, and the files they name. Run on
// 'defaults' and each instance; an instance reports only what involves a
// key it sets itself.
void check_tls(const InstanceDraft& draft, TlsFiles& files, ErrorList& errors);
InstanceDraft read_instance(const YAML::Node& map, const InstanceDraft& defaults,
                            ErrorList& errors);

// 'relay_pipe_size' written in this map while the relay is copy (the
// worker refuses --relay-pipe-size then). Run on 'defaults' and each instance.
void check_relay(const InstanceDraft& draft, ErrorList& errors);

// Checks that need a whole instance, then the ones across instances.
void check_instance(const GlobalSettings& global, const InstanceDraft& draft, ErrorList& errors);
void check_instances(const std::vector<InstanceDraft>& drafts, ErrorList& errors);
// cluster.handoff against the instances; `at` is the cluster section.
void check_handoff(const ClusterSettings& cluster, const YAML::Mark& at,
                   const std::vector<InstanceDraft>& drafts, ErrorList& errors);

}  // namespace config
