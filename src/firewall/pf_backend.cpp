#include "firewall/pf_backend.hpp"

#include <spdlog/spdlog.h>

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
    std::string rules;
    try {
        rules = pf::passive_rules(expectation, options_);
    } catch (const Error&) {
        clear_session(expectation.session);  // no stale negotiation stays behind
        throw;
    }
    load(expectation.session, rules);
}

void PfBackend::expect_active(const ActiveExpectation& expectation) {
    std::string rules;
    try {
        rules = pf::active_rules(expectation, options_);
    } catch (const Error&) {
        clear_session(expectation.session);
        throw;
    }
    load(expectation.session, rules);
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
    if (loaded_.erase(session) == 0) return;  // nothing loaded: spare a fork
    flush(pf::anchor_name(pid_, session));
}

void PfBackend::shutdown() noexcept {
    for (std::uint64_t session : loaded_) flush(pf::anchor_name(pid_, session));
    loaded_.clear();
}

}  // namespace firewall
