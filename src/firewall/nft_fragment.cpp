#include "firewall/nft_fragment.hpp"

#include <algorithm>
#include <cstdio>

namespace firewall {

namespace {

bool dnat_to_loopback(const FragmentInstance& instance) {
    return has_fragment_rules(instance) && instance.listen_address.is_v4() &&
           instance.listen_address.is_loopback();
}

std::string action(const FragmentInstance& instance) {
    const std::string port = std::to_string(instance.listen_port);
    if (instance.listen_address.is_unspecified()) {
        return "redirect to :" + port;
    }
    if (instance.listen_address.is_v4()) {
        return "dnat ip to " + instance.listen_address.to_string() + ":" + port;
    }
    return "dnat ip6 to [" + instance.listen_address.to_string() + "]:" + port;
}

std::string join_ports(const std::vector<FragmentInstance>& instances) {
    std::string text;
    for (const FragmentInstance& instance : instances) {
        if (has_fragment_rules(instance)) {
            text += (text.empty() ? "" : ", ") + std::to_string(instance.listen_port);
        }
    }
    return text;
}

}  // namespace

std::vector<std::string> nft_instance_rules(const FragmentInstance& instance) {
    if (!has_fragment_rules(instance)) {
        return {};
    }
    // iifname, not iif: it matches by name, so the file loads while an
    // interface (a VLAN, a keepalived-managed one) does not exist yet.
    std::string rule;
    if (!instance.interface.empty()) {
        rule += "iifname \"" + instance.interface + "\" ";
    }
    if (instance.public_address) {
        rule += instance.public_address->is_v4() ? "ip daddr " : "ip6 daddr ";
        rule += instance.public_address->to_string() + " ";
    } else {
        rule += instance.listen_address.is_v4() ? "meta nfproto ipv4 " : "meta nfproto ipv6 ";
    }
    rule += "tcp dport " + std::to_string(instance.public_port) + " " + action(instance);
    return {rule + " comment \"" + instance.name + "\""};
}

std::string render_nft_fragment(const std::vector<FragmentInstance>& instances,
                                std::uint32_t kernel_mark) {
    const std::string table(kNftFragmentTable);
    std::string text(kGeneratedNotice);
    char mark[16];
    std::snprintf(mark, sizeof mark, "0x%08x", kernel_mark);
    text +=
        "\n"
        "# The conntrack mark of the data connections the kernel forwards for\n"
        "# instances with data_path: kernel. A forward chain with policy drop must\n"
        "# accept them, in your own table: ct mark $ftpproxy_kernel_mark accept\n";
    text += std::string("define ftpproxy_kernel_mark = ") + mark + "\n";
    text +=
        "\n"
        "# The empty declaration makes the delete work when the table does not exist\n"
        "# yet (nft 1.0.6 has no \"destroy table\"); nft -f applies all of it or nothing.\n";
    text += "table " + table + " {}\n";
    text += "delete table " + table + "\n";
    text += "table " + table + " {\n";
    text += "\tchain prerouting {\n";
    text += "\t\ttype nat hook prerouting priority dstnat; policy accept;\n";
    for (const FragmentInstance& instance : instances) {
        const auto rules = nft_instance_rules(instance);
        if (rules.empty()) {
            continue;
        }
        text += "\t\t# " + instance.description + "\n";
        if (dnat_to_loopback(instance)) {
            const std::string interface = instance.interface.empty() ? "all" : instance.interface;
            text += "\t\t# needs sysctl net.ipv4.conf." + interface + ".route_localnet=1\n";
        }
        for (const std::string& rule : rules) {
            text += "\t\t" + rule + "\n";
        }
    }
    text += "\t}\n";

    // Without this a worker listening on 0.0.0.0 would also take connections
    // sent straight to its port, past the public address and interface match.
    const std::string ports = join_ports(instances);
    text += "\tchain input {\n";
    text += "\t\ttype filter hook input priority filter; policy accept;\n";
    if (!ports.empty()) {
        text += "\t\tiifname != \"lo\" tcp dport { " + ports + " } ct status & dnat == 0 drop\n";
    }
    // route_localnet lets packets for 127.0.0.0/8 in from the wire; only the
    // ones this table translated may pass.
    if (std::any_of(instances.begin(), instances.end(), dnat_to_loopback)) {
        text += "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop\n";
    }
    text += "\t}\n";
    text += "}\n";
    return text;
}

std::string render_nft_fragment_removal() {
    const std::string table(kNftFragmentTable);
    return std::string(kGeneratedNotice) + "\n# ftpproxyd is stopped: its table is removed.\n" +
           "table " + table + " {}\ndelete table " + table + "\n";
}

}  // namespace firewall
