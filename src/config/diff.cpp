#include "config/diff.hpp"

#include <algorithm>

#include "config/firewall_rules.hpp"
#include "config/worker_argv.hpp"
#include "firewall/nft_fragment.hpp"
#include "firewall/pf_fragment.hpp"

namespace config {

namespace {

const Instance* find_instance(const Config& config, const std::string& name) {
    const auto it = std::find_if(config.instances.begin(), config.instances.end(),
                                 [&](const Instance& instance) { return instance.name == name; });
    return it != config.instances.end() ? &*it : nullptr;
}

// The rules are compared in every syntax, whatever the firewall setting: they
// are the instance's own, while a switch of global.firewall or pf_syntax only
// rewrites the file and restarts no worker.
bool same_rules(const Instance& old_instance, const Instance& new_instance) {
    using firewall::PfSyntax;
    const firewall::FragmentInstance before = fragment_instance(old_instance);
    const firewall::FragmentInstance after = fragment_instance(new_instance);
    return firewall::nft_instance_rules(before) == firewall::nft_instance_rules(after) &&
           firewall::pf_instance_rules(PfSyntax::openbsd, before) ==
               firewall::pf_instance_rules(PfSyntax::openbsd, after) &&
           firewall::pf_instance_rules(PfSyntax::freebsd, before) ==
               firewall::pf_instance_rules(PfSyntax::freebsd, after);
}

bool same_effect(const Config& before, const Instance& old_instance, const Config& after,
                 const Instance& new_instance) {
    // The backend list and its checks are not all in the argv (only the
    // first backend is), nor what the TLS files hold: compared as such.
    return worker_argv(before.global, old_instance) == worker_argv(after.global, new_instance) &&
           old_instance.backends == new_instance.backends &&
           old_instance.health_check == new_instance.health_check &&
           old_instance.tls.files_sha256 == new_instance.tls.files_sha256 &&
           same_rules(old_instance, new_instance);
}

}  // namespace

ConfigDiff diff_configs(const Config& before, const Config& after) {
    ConfigDiff diff;
    for (const Instance& instance : after.instances) {
        const Instance* old_instance = find_instance(before, instance.name);
        if (!old_instance) {
            diff.added.push_back(instance.name);
        } else if (same_effect(before, *old_instance, after, instance)) {
            diff.unchanged.push_back(instance.name);
        } else {
            diff.changed.push_back(instance.name);
        }
    }
    for (const Instance& instance : before.instances) {
        if (!find_instance(after, instance.name)) {
            diff.removed.push_back(instance.name);
        }
    }
    return diff;
}

}  // namespace config
