// The 'global' section: paths, the worker's user, and which firewall to feed.
#include <charconv>
#include <map>
#include <utility>

#include "config/sections.hpp"

namespace config {

namespace {

// sun_path holds 104 bytes on OpenBSD and FreeBSD (108 on Linux), NUL included.
constexpr std::size_t kMaxSocketPath = 103;
constexpr std::size_t kMaxUserName = 32;
constexpr std::chrono::seconds kMinDrainTimeout{1};
constexpr std::chrono::seconds kMaxDrainTimeout{86400};

constexpr std::array<std::pair<std::string_view, Firewall>, 3> kFirewalls = {
    {{"nftables", Firewall::nftables}, {"pf", Firewall::pf}, {"none", Firewall::none}}};
constexpr std::array<std::pair<std::string_view, PfSyntax>, 2> kPfSyntaxes = {
    {{"openbsd", PfSyntax::openbsd}, {"freebsd", PfSyntax::freebsd}}};

std::vector<std::string> default_reload_command(const GlobalSettings& global) {
    switch (global.firewall) {
        case Firewall::nftables:
            return {std::string(kNftBinary), "-f", global.rules_file};
        // The fragment is an include of pf.conf: pf loads it with the whole ruleset.
        case Firewall::pf:
            return {std::string(kPfctlBinary), "-f", std::string(kPfConf)};
        case Firewall::none:
            return {};
    }
    return {};
}

// A conntrack mark as an operator writes it in nft: decimal or 0x hex.
std::optional<std::uint32_t> read_kernel_mark(const YAML::Node& value, ErrorList& errors) {
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const char* begin = text.data() + (hex ? 2 : 0);
    const char* end = text.data() + text.size();
    std::uint32_t mark = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, mark, hex ? 16 : 10);
    if (text.empty() || ec != std::errc{} || ptr != end || mark == 0) {
        errors.add(value.Mark(), "'kernel_mark': \"" + text +
                                     "\" is not a nonzero 32-bit conntrack mark (decimal or 0x "
                                     "hexadecimal, e.g. 0x00465450)");
        return std::nullopt;
    }
    return mark;
}

}  // namespace

void read_global(const YAML::Node& map, GlobalSettings& global, ErrorList& errors) {
    std::map<std::string, YAML::Mark, std::less<>> marks;
    bool reload_command_given = false;
    bool firewall_valid = true;
    for_each_entry(
        map, errors,
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            marks.emplace(key, key_node.Mark());
            if (key == "control_socket") {
                auto path = read_absolute_path(value, key, errors);
                if (path && path->size() > kMaxSocketPath) {
                    errors.add(value.Mark(), "'control_socket' is longer than " +
                                                 std::to_string(kMaxSocketPath) +
                                                 " bytes, the limit of a unix socket path");
                    path.reset();
                }
                set_if_valid(global.control_socket, std::move(path));
            } else if (key == "control_group") {
                set_if_valid(global.control_group, read_name(value, key, kMaxUserName, errors));
            } else if (key == "drain_timeout") {
                set_if_valid(global.drain_timeout,
                             read_duration(value, key, kMinDrainTimeout, kMaxDrainTimeout, errors));
            } else if (key == "runtime_dir") {
                set_if_valid(global.runtime_dir, read_absolute_path(value, key, errors));
            } else if (key == "worker_binary") {
                set_if_valid(global.worker_binary, read_absolute_path(value, key, errors));
            } else if (key == "worker_user") {
                set_if_valid(global.worker_user, read_name(value, key, kMaxUserName, errors));
            } else if (key == "log_level") {
                set_if_valid(global.log_level, read_log_level(value, key, errors));
            } else if (key == "firewall") {
                const auto firewall = read_choice<Firewall>(value, key, kFirewalls, errors);
                firewall_valid = firewall.has_value();
                set_if_valid(global.firewall, firewall);
            } else if (key == "pf_syntax") {
                set_if_valid(global.pf_syntax,
                             read_choice<PfSyntax>(value, key, kPfSyntaxes, errors));
            } else if (key == "kernel_mark") {
                set_if_valid(global.kernel_mark, read_kernel_mark(value, errors));
            } else if (key == "metrics_listen") {
                if (auto endpoint = read_ip_endpoint(value, key, "127.0.0.1:9121", errors))
                    global.metrics_listen = *endpoint;
            } else if (key == "rules_file") {
                set_if_valid(global.rules_file, read_absolute_path(value, key, errors));
            } else if (key == "reload_command") {
                reload_command_given = true;
                set_if_valid(global.reload_command, read_command(value, key, errors));
            } else {
                report_unknown_key(key_node, key, kGlobalKeys, "", errors);
            }
        });

    // Settings that would silently do nothing are mistakes: say so.
    const auto refuse_unused = [&](std::string_view key, std::string_view why) {
        if (const auto it = marks.find(key); firewall_valid && it != marks.end()) {
            errors.add(it->second, "'" + std::string(key) + "' has no effect " + std::string(why));
        }
    };
    if (global.firewall == Firewall::none) {
        refuse_unused("rules_file", "with firewall: none (set firewall: nftables or pf)");
        refuse_unused("reload_command", "with firewall: none (set firewall: nftables or pf)");
    }
    if (global.firewall != Firewall::pf) {
        refuse_unused("pf_syntax", "unless firewall: pf");
    }

    if (global.firewall != Firewall::none && global.rules_file.empty()) {
        global.rules_file = global.firewall == Firewall::pf ? std::string(kDefaultPfRulesFile)
                                                            : std::string(kDefaultNftRulesFile);
    }
    if (!reload_command_given) {
        global.reload_command = default_reload_command(global);
    }
}

}  // namespace config
