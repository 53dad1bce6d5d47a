// pf (OpenBSD): each session's rules live in the anchor
// ftp-proxy/<pid>.<session>, replaced per negotiation and emptied when the
// connection came, on every error and at session end, as the reference
// does. Rules go through `pfctl -a ANCHOR -f -` (fork+exec, as OpenBSD
// admins' tooling does); the pfctl path is a parameter so that tests run a
// stand-in that records what it was given.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "firewall/firewall.hpp"
#include "firewall/privileged_runner.hpp"

namespace firewall {

class PfBackend : public Backend {
  public:
    // runner: how pfctl is run (directly, or through the privileged helper
    // when the worker will drop root).
    PfBackend(RuleOptions options, std::string pfctl, pid_t pid = ::getpid(),
              ProgramRunner runner = run_program);

    void init() override;
    void expect_passive(const PassiveExpectation& expectation) override;
    void expect_active(const ActiveExpectation& expectation) override;
    void expect_onward(const OnwardExpectation& expectation) override;
    void connection_arrived(std::uint64_t session) noexcept override;
    void clear_session(std::uint64_t session) noexcept override;
    void shutdown() noexcept override;
    std::string name() const override { return "pf"; }

  private:
    // Renders and loads one negotiation's rules, remembering the onward rule.
    void expect(std::uint64_t session, const std::optional<OnwardLeg>& onward,
                const std::function<std::string()>& render);
    void load(std::uint64_t session, const std::string& rules);
    bool flush(const std::string& anchor) noexcept;

    RuleOptions options_;
    std::string pfctl_;
    pid_t pid_;
    ProgramRunner runner_;
    std::set<std::uint64_t> loaded_;  // sessions whose anchor holds rules
    // Per session, the rule that stays once the connection arrived ("": none).
    std::map<std::uint64_t, std::string> onward_;
};

}  // namespace firewall
