#include "firewall/pf_backend.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "firewall/addresses.hpp"
#include "firewall/pf_rules.hpp"
#include "firewall/process.hpp"

namespace firewall {
namespace {

// pfctl's messages end in a newline; a log line should not.
std::string first_line(const std::string& text) {
    const std::string line = text.substr(0, text.find('\n'));
    return line.empty() ? "no message" : line;
}

}  // namespace

PfBackend::PfBackend(RuleOptions options, std::string pfctl, pid_t pid, ProgramRunner runner)
    : options_(std::move(options)),
      pfctl_(std::move(pfctl)),
      pid_(pid),
      runner_(std::move(runner)) {}

// Anchors of a worker that died keep passing their connections forever (pf
// rules do not expire), so they are emptied here; a live worker's are not.
void PfBackend::init() {
    const ProgramResult listing = runner_({pfctl_, "-a", "ftp-proxy", "-sA"}, "");
    if (listing.exit_code != 0)
        throw Error("pfctl -a ftp-proxy -sA failed: " + first_line(listing.output));
    for (const pf::AnchorOwner& owner : pf::session_anchors(listing.output)) {
        if (owner.pid == pid_ || !process_is_gone(owner.pid)) continue;
        if (flush(owner.anchor))
            spdlog::info("pf: emptied anchor {} of a worker that is gone", owner.anchor);
    }
}

void PfBackend::expect_passive(const PassiveExpectation& expectation) {
    expect(expectation.session, std::nullopt,
           [&] { return pf::passive_rules(expectation, options_); });
}

void PfBackend::expect_active(const ActiveExpectation& expectation) {
    expect(expectation.session, expectation.onward,
           [&] { return pf::active_rules(expectation, options_); });
}

void PfBackend::expect_onward(const OnwardExpectation& expectation) {
    expect(expectation.session, expectation.leg,
           [&] { return pf::onward_rule(expectation.leg, options_); });
}

void PfBackend::expect(std::uint64_t session, const std::optional<OnwardLeg>& onward,
                       const std::function<std::string()>& render) {
    std::string rules, after_arrival;
    try {
        rules = render();
        if (onward) after_arrival = pf::onward_rule(*onward, options_);
    } catch (const Error&) {
        clear_session(session);  // no stale negotiation stays behind
        throw;
    }
    load(session, rules);
    onward_[session] = std::move(after_arrival);
}

// The onward connection follows the arrival: its `pass out` (and nat-to)
// rule stays, alone in the anchor, until the next negotiation or the end.
void PfBackend::connection_arrived(std::uint64_t session) noexcept {
    const auto it = onward_.find(session);
    if (it == onward_.end() || it->second.empty()) {
        clear_session(session);
        return;
    }
    const std::string rules = std::exchange(it->second, {});
    try {
        load(session, rules);
    } catch (const std::exception& e) {
        spdlog::error("{} pf: cannot keep only the onward rule: {}", session_tag(session),
                      e.what());
    }
}

// `-f -` replaces the anchor's whole ruleset in one transaction, which is
// the reference's per-negotiation replace.
void PfBackend::load(std::uint64_t session, const std::string& rules) {
    const std::string anchor = pf::anchor_name(pid_, session);
    ProgramResult result;
    try {
        result = runner_({pfctl_, "-a", anchor, "-f", "-"}, rules);
    } catch (const Error&) {
        loaded_.erase(session);
        flush(anchor);
        throw;
    }
    if (result.exit_code != 0) {
        loaded_.erase(session);
        flush(anchor);
        throw Error("pfctl -a " + anchor + " -f - failed: " + first_line(result.output));
    }
    loaded_.insert(session);
}

bool PfBackend::flush(const std::string& anchor) noexcept {
    try {
        const ProgramResult result = runner_({pfctl_, "-a", anchor, "-F", "rules"}, "");
        if (result.exit_code == 0) return true;
        spdlog::error("pf: cannot empty anchor {}: {}", anchor, first_line(result.output));
    } catch (const std::exception& e) {
        spdlog::error("pf: cannot empty anchor {}: {}", anchor, e.what());
    }
    return false;
}

void PfBackend::clear_session(std::uint64_t session) noexcept {
    onward_.erase(session);
    if (loaded_.erase(session) == 0) return;  // nothing loaded: spare a fork
    flush(pf::anchor_name(pid_, session));
}

void PfBackend::shutdown() noexcept {
    for (std::uint64_t session : loaded_) flush(pf::anchor_name(pid_, session));
    loaded_.clear();
    onward_.clear();
}

}  // namespace firewall
