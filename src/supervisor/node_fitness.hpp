// Whether this node can serve: what decides if it may hold the shared
// (CARP/VRRP) addresses. Pure: the instances' states in, a verdict out.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "supervisor/backend_health.hpp"
#include "supervisor/lifecycle.hpp"

namespace supervisor {

struct InstanceFitness {
    std::string name;
    State state = State::stopped;
    bool responding = true;  // its worker answered the liveness watch's last question
    // It ran before and its listening socket stayed open: a worker that
    // starts again (after a crash, a restart, a reload) is already taking
    // connections into the backlog, so STARTING counts as serving then.
    bool served_before = false;
    // Reverse mode with checks on: each backend's health. Empty when there
    // is nothing to check (forward mode, checks off).
    std::vector<Health> backends;
};

struct Fitness {
    bool fit = false;
    std::string reason;  // why not, for people: "ftp01 has no healthy backend"
    bool operator==(const Fitness&) const = default;
};

// Fit when every instance is RUNNING with a worker that answers, and each
// checked one has a backend
// that is up. At start the node is not fit until that holds (its backends
// are not checked yet): the ready-gating pfsync does at boot. The reason
// names the first instance that fails, and how many more do.
Fitness judge_node(std::span<const InstanceFitness> instances);

}  // namespace supervisor
