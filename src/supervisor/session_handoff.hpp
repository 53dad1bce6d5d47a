// Sets up (and takes down) the session handoff of handoff_plan.hpp on this
// node: the nftables tables and the local-route rule, from the
// configuration and the node's interfaces. A plan that cannot be made (the
// LAN address not configured yet) is retried until it can; status says why.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/model.hpp"
#include "supervisor/asio.hpp"
#include "supervisor/child_reaper.hpp"
#include "supervisor/handoff_plan.hpp"

namespace supervisor {

class SessionHandoff {
  public:
    SessionHandoff(asio::io_context& io, ChildReaper& reaper);

    // At start and at each reload: installs what `config` asks for (or
    // removes it when cluster.handoff is gone). Does nothing when the plan
    // is what is installed already.
    void configure(const config::Config& config);
    // A clean stop, after the sessions drained: removes everything.
    awaitable<void> remove();

    bool enabled() const { return !nodes_.empty(); }
    nlohmann::json to_json() const;  // null when off

  private:
    void kick();
    awaitable<void> settle();
    // "" when done, else why not.
    awaitable<std::string> install(const handoff::Plan& plan);
    awaitable<void> remove_all();
    awaitable<void> run_quietly(std::vector<std::string> argv);

    asio::io_context& io_;
    ChildReaper& reaper_;
    std::vector<common::IpAddress> nodes_;
    std::vector<handoff::SharedAddress> vips_;
    bool installed_ = false;  // tables and rule in place for `plan_`
    handoff::Plan plan_;
    std::string error_;
    bool settling_ = false;
    bool again_ = false;
    bool removed_ = false;
    bool configured_ = false;
    bool checked_leftovers_ = false;  // of an earlier run, once, when off
    asio::steady_timer retry_;
};

}  // namespace supervisor
