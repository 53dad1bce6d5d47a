// pf (OpenBSD): each session's rules live in the anchor
// ftp-proxy/<pid>.<session>, replaced per negotiation and emptied when the
// connection came, on every error and at session end, as the reference
// does. Rules go through `pfctl -a ANCHOR -f -` (fork+exec, as OpenBSD
// admins' tooling does), run by a PfctlRunner: as root, the privileged
// helper, whose runs finish asynchronously; tests give a stand-in pfctl.
//
// The pfctl runs of one session go one after another, in the order they
// were asked for (a flush must not overtake the load it empties); those of
// different sessions run at the same time.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "firewall/firewall.hpp"
#include "firewall/privileged_runner.hpp"

namespace firewall {

class PfBackend : public Backend {
  public:
    PfBackend(RuleOptions options, std::string pfctl, pid_t pid = ::getpid(),
              std::shared_ptr<PfctlRunner> runner = make_direct_runner());

    void init() override;
    void expect_passive(const PassiveExpectation& expectation, Done done) override;
    void expect_active(const ActiveExpectation& expectation, Done done) override;
    void expect_onward(const OnwardExpectation& expectation, Done done) override;
    void connection_arrived(std::uint64_t session) noexcept override;
    void clear_session(std::uint64_t session) noexcept override;
    void shutdown() noexcept override;
    std::string name() const override { return "pf"; }

  private:
    // One pfctl run of a session, and what to do with its result.
    struct Step {
        std::vector<std::string> argv;
        std::string input;
        std::function<void(const ProgramResult&)> then;
    };
    struct Queue {
        std::deque<Step> steps;
        bool running = false;
    };

    // Renders one negotiation's rules and queues their load.
    void expect(std::uint64_t session, const std::optional<OnwardLeg>& onward,
                const std::function<std::string()>& render, Done done);
    void load(std::uint64_t session, std::string rules, Done done);
    Step flush_step(std::uint64_t session);
    // first: ahead of the steps already queued (the flush after a failure).
    void enqueue(std::uint64_t session, Step step, bool first = false);
    void run_next(std::uint64_t session);
    void finished(std::uint64_t session, const ProgramResult& result);
    bool flush_now(const std::string& anchor) noexcept;
    std::vector<std::string> pfctl(const std::string& anchor, const char* op,
                                   const char* arg) const;

    RuleOptions options_;
    std::string pfctl_;
    pid_t pid_;
    std::shared_ptr<PfctlRunner> runner_;
    std::map<std::uint64_t, Queue> queues_;
    // Sessions whose anchor may hold rules: a load was queued and no flush
    // after it.
    std::set<std::uint64_t> loaded_;
    // Per session, the rule that stays once the connection arrived ("": none).
    std::map<std::uint64_t, std::string> onward_;
};

}  // namespace firewall
