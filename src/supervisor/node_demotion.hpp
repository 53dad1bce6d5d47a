// Telling the cluster layer that this node cannot serve: one of the methods
// of config::Demotion, applied one change at a time, with books kept in the
// runtime directory so that a demotion is never applied twice (the CARP
// counters add up) nor left behind by a change of settings or an earlier
// run that was killed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/child_reaper.hpp"
#include "supervisor/lifecycle.hpp"

namespace supervisor {

// One way to move the node: a program to run, or a file to write.
struct DemotionAction {
    std::vector<std::string> argv;
    std::string file;
    std::string content;
    bool operator==(const DemotionAction&) const = default;
    std::string describe() const;  // "/sbin/ifconfig -g carp carpdemote 50", "write 1 to FILE"
};

// The pair of actions of a configured method (none: both empty).
DemotionAction demote_action(const config::ClusterSettings& cluster);
DemotionAction promote_action(const config::ClusterSettings& cluster);

class NodeDemotion {
  public:
    NodeDemotion(asio::io_context& io, ChildReaper& reaper, std::string runtime_dir);

    // At start and at each reload. A demotion applied with other settings
    // (by this run, or by an earlier one: the books say) is undone first.
    void configure(const config::ClusterSettings& cluster);
    // Demoted or not from now on; `reason` says why (for status and logs).
    void want(bool demoted, std::string reason);
    // A clean stop: undoes this node's demotion, waiting at most ~15 s.
    awaitable<void> release();

    config::Demotion method() const { return cluster_.demotion; }
    bool wanted() const { return wanted_; }
    bool applied() const { return applied_.has_value(); }
    const std::string& reason() const { return reason_; }
    const std::string& error() const { return error_; }  // the last failure, "" after success
    Clock::time_point since() const { return since_; }   // of the applied state

  private:
    void kick();
    awaitable<void> settle();
    // "" when done, else why not.
    awaitable<std::string> perform(const DemotionAction& action);
    void remember(const std::optional<DemotionAction>& undo);

    asio::io_context& io_;
    ChildReaper& reaper_;
    std::string books_;  // RUNTIME_DIR/demotion.json: the undo of what is applied
    config::ClusterSettings cluster_;
    bool configured_ = false;
    bool wanted_ = true;  // demoted until judged fit (ready-gating)
    std::string reason_ = "starting";
    // The undo of the demotion in force, if one is: set while demoted.
    std::optional<DemotionAction> applied_;
    std::string error_;
    Clock::time_point since_ = Clock::now();
    bool settling_ = false;
    bool again_ = false;
    asio::steady_timer retry_;
};

}  // namespace supervisor
