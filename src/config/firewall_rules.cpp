#include "config/firewall_rules.hpp"

#include "firewall/nft_fragment.hpp"
#include "firewall/pf_fragment.hpp"

namespace config {

namespace {

firewall::PfSyntax fragment_syntax(PfSyntax syntax) {
    return syntax == PfSyntax::freebsd ? firewall::PfSyntax::freebsd : firewall::PfSyntax::openbsd;
}

}  // namespace

std::optional<std::string> render_firewall_rules(const Config& config) {
    switch (config.global.firewall) {
        case Firewall::nftables:
            return firewall::render_nft_fragment(fragment_instances(config.instances),
                                                 config.global.kernel_mark);
        case Firewall::pf:
            return firewall::render_pf_fragment(fragment_syntax(config.global.pf_syntax),
                                                fragment_instances(config.instances));
        case Firewall::none:
            return std::nullopt;
    }
    return std::nullopt;
}

firewall::FragmentInstance fragment_instance(const Instance& instance) {
    firewall::FragmentInstance fragment;
    fragment.name = instance.name;
    fragment.description = describe_instance(instance);
    fragment.forward = instance.mode == Mode::forward;
    fragment.listen_address = instance.listen_address;
    fragment.listen_port = instance.listen_port;
    fragment.public_address = instance.public_address;
    fragment.public_port = instance.public_port;
    fragment.interface = instance.interface;
    if (instance.passive_ports)
        fragment.passive_ports = {instance.passive_ports->low, instance.passive_ports->high};
    return fragment;
}

std::vector<firewall::FragmentInstance> fragment_instances(const std::vector<Instance>& instances) {
    std::vector<firewall::FragmentInstance> fragments;
    fragments.reserve(instances.size());
    for (const Instance& instance : instances) fragments.push_back(fragment_instance(instance));
    return fragments;
}

std::string describe_instance(const Instance& instance) {
    std::string text = instance.name + " (" + std::string(to_string(instance.mode)) + "): ";
    text += instance.public_address
                ? common::format_endpoint(*instance.public_address, instance.public_port)
                : common::format_host_port("any", instance.public_port);
    if (!instance.interface.empty()) {
        text += " on " + instance.interface;
    }
    text += " -> worker " + common::format_endpoint(instance.listen_address, instance.listen_port);
    if (instance.backends.empty()) {
        return text + " -> the server each client asked for";
    }
    text += instance.backends.size() == 1 ? " -> server " : " -> servers ";
    for (std::size_t i = 0; i < instance.backends.size(); ++i) {
        text += (i == 0 ? "" : ", ") +
                common::format_host_port(instance.backends[i].host, instance.backends[i].port);
    }
    return text;
}

}  // namespace config
