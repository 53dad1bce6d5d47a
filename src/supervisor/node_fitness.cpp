#include "supervisor/node_fitness.hpp"

#include <algorithm>

namespace supervisor {

namespace {

// "" when the instance can serve.
std::string why_not(const InstanceFitness& instance) {
    const bool restarting = instance.state == State::starting && instance.served_before;
    if (instance.state != State::running && !restarting) {
        return instance.name + " is " + std::string(to_string(instance.state));
    }
    if (!instance.responding) return instance.name + "'s worker does not answer (UNRESPONSIVE)";
    if (instance.backends.empty()) return {};
    const auto up = std::count(instance.backends.begin(), instance.backends.end(), Health::up);
    if (up > 0) return {};
    const auto unknown =
        std::count(instance.backends.begin(), instance.backends.end(), Health::unknown);
    if (unknown > 0) return instance.name + "'s backends are not checked yet";
    return instance.name + " has no healthy backend";
}

}  // namespace

Fitness judge_node(std::span<const InstanceFitness> instances) {
    std::string first;
    std::size_t failing = 0;
    for (const auto& instance : instances) {
        std::string reason = why_not(instance);
        if (reason.empty()) continue;
        if (failing++ == 0) first = std::move(reason);
    }
    if (failing == 0) return {true, {}};
    if (failing > 1) first += " (and " + std::to_string(failing - 1) + " more)";
    return {false, first};
}

}  // namespace supervisor
