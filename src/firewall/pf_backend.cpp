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

PfBackend::PfBackend(RuleOptions options, std::string pfctl, pid_t pid,
                     std::shared_ptr<PfctlRunner> runner)
    : options_(std::move(options)),
      pfctl_(std::move(pfctl)),
      pid_(pid),
      runner_(std::move(runner)) {}

std::vector<std::string> PfBackend::pfctl(const std::string& anchor, const char* op,
                                          const char* arg) const {
    return {pfctl_, "-a", anchor, op, arg};
}

// Anchors of a worker that died keep passing their connections forever (pf
// rules do not expire), so they are emptied here; a live worker's are not.
void PfBackend::init() {
    const std::string parent(pf::kAnchorParent);
    const ProgramResult listing = runner_->run_now({pfctl_, "-a", parent, "-sA"}, "");
    if (listing.exit_code != 0)
        throw Error("pfctl -a " + parent + " -sA failed: " + first_line(listing.output));
    for (const pf::AnchorOwner& owner : pf::session_anchors(listing.output)) {
        if (owner.pid == pid_ || !process_is_gone(owner.pid)) continue;
        if (flush_now(owner.anchor))
            spdlog::info("pf: emptied anchor {} of a worker that is gone", owner.anchor);
    }
}

void PfBackend::expect_passive(const PassiveExpectation& expectation, Done done) {
    expect(
        expectation.session, std::nullopt,
        [&] { return pf::passive_rules(expectation, options_); }, std::move(done));
}

void PfBackend::expect_active(const ActiveExpectation& expectation, Done done) {
    expect(
        expectation.session, expectation.onward,
        [&] { return pf::active_rules(expectation, options_); }, std::move(done));
}

void PfBackend::expect_onward(const OnwardExpectation& expectation, Done done) {
    expect(
        expectation.session, expectation.leg,
        [&] { return pf::onward_rule(expectation.leg, options_); }, std::move(done));
}

void PfBackend::expect(std::uint64_t session, const std::optional<OnwardLeg>& onward,
                       const std::function<std::string()>& render, Done done) {
    std::string rules, after_arrival;
    try {
        rules = render();
        if (onward) after_arrival = pf::onward_rule(*onward, options_);
    } catch (const Error& e) {
        clear_session(session);  // no stale negotiation stays behind
        done(e.what());
        return;
    }
    onward_[session] = std::move(after_arrival);
    load(session, std::move(rules), std::move(done));
}

// `-f -` replaces the anchor's whole ruleset in one transaction, which is
// the reference's per-negotiation replace. A failed load empties the anchor
// before anything else of the session runs.
void PfBackend::load(std::uint64_t session, std::string rules, Done done) {
    loaded_.insert(session);
    const std::string anchor = pf::anchor_name(pid_, session);
    Step step{pfctl(anchor, "-f", "-"), std::move(rules), {}};
    step.then = [this, session, anchor, done = std::move(done)](const ProgramResult& result) {
        if (result.exit_code == 0) {
            done({});
            return;
        }
        onward_.erase(session);
        if (loaded_.erase(session) != 0) enqueue(session, flush_step(session), true);
        done("pfctl -a " + anchor + " -f - failed: " + first_line(result.output));
    };
    enqueue(session, std::move(step));
}

// The onward connection follows the arrival: its `pass out` (and nat-to)
// rule stays, alone in the anchor, until the next negotiation or the end.
void PfBackend::connection_arrived(std::uint64_t session) noexcept {
    const auto it = onward_.find(session);
    if (it == onward_.end() || it->second.empty()) {
        clear_session(session);
        return;
    }
    load(session, std::exchange(it->second, {}), [session](const std::string& error) {
        if (!error.empty())
            spdlog::error("{} pf: cannot keep only the onward rule: {}", session_tag(session),
                          error);
    });
}

void PfBackend::clear_session(std::uint64_t session) noexcept {
    onward_.erase(session);
    if (loaded_.erase(session) == 0) return;  // nothing loaded: spare a fork
    enqueue(session, flush_step(session));
}

PfBackend::Step PfBackend::flush_step(std::uint64_t session) {
    const std::string anchor = pf::anchor_name(pid_, session);
    return {pfctl(anchor, "-F", "rules"), {}, [anchor](const ProgramResult& result) {
                if (result.exit_code != 0)
                    spdlog::error("pf: cannot empty anchor {}: {}", anchor,
                                  first_line(result.output));
            }};
}

void PfBackend::enqueue(std::uint64_t session, Step step, bool first) {
    Queue& queue = queues_[session];
    if (first)
        queue.steps.push_front(std::move(step));
    else
        queue.steps.push_back(std::move(step));
    if (!queue.running) run_next(session);
}

void PfBackend::run_next(std::uint64_t session) {
    Queue& queue = queues_[session];
    queue.running = true;
    const Step& step = queue.steps.front();
    runner_->run(step.argv, step.input,
                 [this, session](ProgramResult result) { finished(session, result); });
}

void PfBackend::finished(std::uint64_t session, const ProgramResult& result) {
    const auto it = queues_.find(session);
    if (it == queues_.end()) return;  // shut down meanwhile
    Step step = std::move(it->second.steps.front());
    it->second.steps.pop_front();
    it->second.running = false;
    step.then(result);  // may queue more for this session
    Queue& queue = queues_[session];
    if (queue.running) return;
    if (queue.steps.empty())
        queues_.erase(session);
    else
        run_next(session);
}

bool PfBackend::flush_now(const std::string& anchor) noexcept {
    try {
        const ProgramResult result = runner_->run_now(pfctl(anchor, "-F", "rules"), "");
        if (result.exit_code == 0) return true;
        spdlog::error("pf: cannot empty anchor {}: {}", anchor, first_line(result.output));
    } catch (const std::exception& e) {
        spdlog::error("pf: cannot empty anchor {}: {}", anchor, e.what());
    }
    return false;
}

// After the io_context stopped: what is queued will not run, what runs is
// waited for (run_now), then every anchor that may hold rules is emptied.
void PfBackend::shutdown() noexcept {
    for (const auto& [session, queue] : queues_) loaded_.insert(session);
    queues_.clear();
    for (std::uint64_t session : loaded_) flush_now(pf::anchor_name(pid_, session));
    loaded_.clear();
    onward_.clear();
}

}  // namespace firewall
