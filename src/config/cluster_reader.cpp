// The 'cluster' section: how ftpproxyd demotes the node when it cannot serve.
#include <algorithm>
#include <map>

#include "config/sections.hpp"

namespace config {

namespace {

constexpr std::array<std::pair<std::string_view, Demotion>, 5> kDemotions = {
    {{"none", Demotion::none},
     {"keepalived", Demotion::keepalived},
     {"openbsd-carp", Demotion::openbsd_carp},
     {"freebsd-carp", Demotion::freebsd_carp},
     {"command", Demotion::command}}};
constexpr std::size_t kMaxGroupName = 15;  // an interface group name, as IFNAMSIZ

// Which keys belong to which method: a key of another method is a mistake
// worth naming (a track_file with demotion: openbsd-carp does nothing).
bool key_applies(std::string_view key, Demotion demotion) {
    if (key == "demotion" || key == "handoff") return true;
    if (key == "track_file") return demotion == Demotion::keepalived;
    if (key == "carp_group") return demotion == Demotion::openbsd_carp;
    if (key == "demote_by")
        return demotion == Demotion::openbsd_carp || demotion == Demotion::freebsd_carp;
    return demotion == Demotion::command;  // demote_command, promote_command
}

// handoff: {nodes: [A, B]}: 2..kMaxHandoffNodes distinct IP addresses.
void read_handoff(const YAML::Node& value, ClusterSettings& cluster, ErrorList& errors) {
    if (!value.IsMap()) {
        errors.add(value.Mark(), "'handoff': a map with 'nodes' (each node's own address)");
        return;
    }
    bool have_nodes = false;
    for_each_entry(
        value, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& nodes) {
            if (key != "nodes") {
                report_unknown_key(key_node, key, kHandoffKeys, "", errors);
                return;
            }
            have_nodes = true;
            if (!nodes.IsSequence() || nodes.size() < 2 || nodes.size() > kMaxHandoffNodes) {
                errors.add(nodes.Mark(), "'nodes': a list of 2.." +
                                             std::to_string(kMaxHandoffNodes) +
                                             " IP addresses, each node's own on the VIPs' link");
                return;
            }
            for (const auto& item : nodes) {
                const auto address = read_ip_address(item, "nodes", errors);
                if (!address) continue;
                if (std::find(cluster.handoff_nodes.begin(), cluster.handoff_nodes.end(),
                              *address) != cluster.handoff_nodes.end()) {
                    errors.add(item.Mark(),
                               "'nodes': " + address->to_string() + " is listed twice");
                    continue;
                }
                cluster.handoff_nodes.push_back(*address);
            }
        });
    if (!have_nodes) errors.add(value.Mark(), "'handoff' needs 'nodes'");
}

}  // namespace

void read_cluster(const YAML::Node& map, ClusterSettings& cluster, ErrorList& errors) {
    std::map<std::string, YAML::Mark, std::less<>> marks;
    bool demotion_valid = true;
    for_each_entry(
        map, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            marks.emplace(key, key_node.Mark());
            if (key == "demotion") {
                demotion_valid = set_if_valid(
                    cluster.demotion, read_choice<Demotion>(value, key, kDemotions, errors));
            } else if (key == "track_file") {
                set_if_valid(cluster.track_file, read_absolute_path(value, key, errors));
            } else if (key == "carp_group") {
                set_if_valid(cluster.carp_group, read_name(value, key, kMaxGroupName, errors));
            } else if (key == "demote_by") {
                set_if_valid(cluster.demote_by, read_int(value, key, 1, kMaxDemoteBy, errors));
            } else if (key == "demote_command") {
                set_if_valid(cluster.demote_command, read_command(value, key, errors));
            } else if (key == "promote_command") {
                set_if_valid(cluster.promote_command, read_command(value, key, errors));
            } else if (key == "handoff") {
                read_handoff(value, cluster, errors);
            } else {
                report_unknown_key(key_node, key, kClusterKeys, "", errors);
                marks.erase(key);
            }
        });
    if (!demotion_valid) return;
    for (const auto& [key, mark] : marks) {
        if (!key_applies(key, cluster.demotion)) {
            errors.add(mark, "'" + key + "' has no effect with 'demotion: " +
                                 std::string(to_string(cluster.demotion)) + "'");
        }
    }
    if (cluster.demotion == Demotion::command) {
        for (const char* key : {"demote_command", "promote_command"}) {
            if (!marks.contains(key)) {
                errors.add(map.Mark(), "'demotion: command' needs '" + std::string(key) +
                                           "' (a list: program and arguments, no shell)");
            }
        }
    }
}

}  // namespace config
