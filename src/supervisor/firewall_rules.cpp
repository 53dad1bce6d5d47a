#include "supervisor/firewall_rules.hpp"

#include "supervisor/nft_rules.hpp"
#include "supervisor/pf_rules.hpp"

namespace supervisor {

std::optional<std::string> render_firewall_rules(const Config& config) {
    switch (config.global.firewall) {
        case Firewall::nftables:
            return render_nft_rules(config.instances);
        case Firewall::pf:
            return render_pf_rules(config.global.pf_syntax, config.instances);
        case Firewall::none:
            return std::nullopt;
    }
    return std::nullopt;
}

bool has_firewall_rules(const Instance& instance) {
    return instance.public_address ||
           (instance.mode == Mode::forward && !instance.interface.empty());
}

std::string describe_instance(const Instance& instance) {
    std::string text = instance.name + " (" + std::string(to_string(instance.mode)) + "): ";
    text += instance.public_address
                ? format_endpoint(*instance.public_address, instance.public_port)
                : format_host_port("any", instance.public_port);
    if (!instance.interface.empty()) {
        text += " on " + instance.interface;
    }
    text += " -> worker " + format_endpoint(instance.listen_address, instance.listen_port);
    text += instance.backend
                ? " -> server " + format_host_port(instance.backend->host, instance.backend->port)
                : " -> the server each client asked for";
    return text;
}

}  // namespace supervisor
