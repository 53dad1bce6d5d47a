#include "firewall/pf_fragment.hpp"

#include "firewall/pf_rules.hpp"

namespace firewall {

namespace {

// The anchors OpenBSD's ftp-proxy fills with per-session rules, as the
// worker's pf backend does (pf::kAnchorParent); kept so the file also serves
// that proxy and a forward-mode worker that uses pf.
std::string every_session_anchor() {
    return "\"" + std::string(pf::kAnchorParent) + "/*\"";
}

// pf needs a real address to divert to: a worker listening on the
// unspecified address is reached on the loopback address of its family.
std::string divert_address(const FragmentInstance& instance) {
    if (!instance.listen_address.is_unspecified()) {
        return instance.listen_address.to_string();
    }
    return instance.listen_address.is_v4() ? "127.0.0.1" : "::1";
}

// "pass in on em0 inet proto tcp from any to 198.18.0.1 port 21"; `rule` is
// "pass in" or "rdr pass".
std::string match(std::string_view rule, const FragmentInstance& instance,
                  const std::string& ports) {
    const bool ipv6 = instance.public_address ? instance.public_address->is_v6()
                                              : instance.listen_address.is_v6();
    std::string text(rule);
    if (!instance.interface.empty()) {
        text += " on " + instance.interface;
    }
    text += ipv6 ? " inet6" : " inet";
    text += " proto tcp from any to ";
    text += instance.public_address ? instance.public_address->to_string() : "any";
    return text + " port " + ports;
}

}  // namespace

PfInstanceRules pf_instance_rules(PfSyntax syntax, const FragmentInstance& instance) {
    PfInstanceRules rules;
    if (!has_fragment_rules(instance)) {
        return rules;
    }
    const std::string port = std::to_string(instance.public_port);
    const std::string target =
        divert_address(instance) + " port " + std::to_string(instance.listen_port);
    if (syntax == PfSyntax::openbsd) {
        rules.filter.push_back(match("pass in", instance, port) +
                               " flags S/SA keep state divert-to " + target);
    } else {
        rules.translation.push_back(match("rdr pass", instance, port) + " -> " + target);
    }
    // The worker's passive listeners wait on the public address; a pf that
    // blocks by default must let the clients' data connections reach them.
    // XXX forward mode without a public address needs per-session rules.
    if (instance.passive_ports && instance.public_address) {
        const std::string range = std::to_string(instance.passive_ports->low) + ":" +
                                  std::to_string(instance.passive_ports->high);
        rules.filter.push_back(match("pass in", instance, range) + " flags S/SA keep state");
    }
    return rules;
}

std::string render_pf_fragment(PfSyntax syntax, const std::vector<FragmentInstance>& instances) {
    std::string text(kGeneratedNotice);
    text += "\n";
    const auto section = [&](auto member) {
        for (const FragmentInstance& instance : instances) {
            const auto lines = pf_instance_rules(syntax, instance).*member;
            if (lines.empty()) {
                continue;
            }
            text += "# " + instance.description + "\n";
            for (const std::string& line : lines) {
                text += line + "\n";
            }
        }
    };
    if (syntax == PfSyntax::openbsd) {
        text += "# Include it in the filter section of pf.conf.\n";
        text += "anchor " + every_session_anchor() + "\n";
        section(&PfInstanceRules::filter);
        return text;
    }
    // FreeBSD's pf wants translation rules before filter rules.
    text += "# Include it after your own nat/rdr rules and before your filter rules.\n";
    text += "nat-anchor " + every_session_anchor() + "\n";
    text += "rdr-anchor " + every_session_anchor() + "\n";
    section(&PfInstanceRules::translation);
    text += "anchor " + every_session_anchor() + "\n";
    section(&PfInstanceRules::filter);
    return text;
}

}  // namespace firewall
