#include "supervisor/node_demotion.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "common/atomic_file.hpp"
#include "supervisor/run_command.hpp"

namespace supervisor {

namespace {

using nlohmann::json;

// A CARP or VRRP command that takes longer is hung.
constexpr std::chrono::seconds kDemotionCommandTimeout{10};
// A failed change is tried again after this long, for as long as it is due.
constexpr std::chrono::seconds kRetryDelay{5};
// How long a clean stop waits for the undo.
constexpr int kReleasePolls = 300;
constexpr std::chrono::milliseconds kReleasePoll{50};

json to_json(const DemotionAction& action) {
    if (!action.argv.empty()) return {{"argv", action.argv}};
    return {{"file", action.file}, {"content", action.content}};
}

std::optional<DemotionAction> from_json(const json& undo) {
    if (!undo.is_object()) return std::nullopt;
    DemotionAction action;
    if (const auto argv = undo.find("argv"); argv != undo.end() && argv->is_array()) {
        for (const auto& word : *argv) {
            if (!word.is_string()) return std::nullopt;
            action.argv.push_back(word.get<std::string>());
        }
        return action.argv.empty() ? std::nullopt : std::optional(action);
    }
    action.file = undo.value("file", std::string());
    action.content = undo.value("content", std::string());
    if (action.file.empty()) return std::nullopt;
    return action;
}

std::vector<std::string> carp_command(const config::ClusterSettings& cluster, bool demote) {
    return {std::string(config::kIfconfigBinary), "-g", cluster.carp_group,
            demote ? "carpdemote" : "-carpdemote", std::to_string(cluster.demote_by)};
}

// FreeBSD adds what is written: +N demotes, -N takes it back.
std::vector<std::string> sysctl_command(const config::ClusterSettings& cluster, bool demote) {
    return {std::string(config::kSysctlBinary),
            "net.inet.carp.demotion=" + std::string(demote ? "" : "-") +
                std::to_string(cluster.demote_by)};
}

DemotionAction action_for(const config::ClusterSettings& cluster, bool demote) {
    switch (cluster.demotion) {
        case config::Demotion::none:
            return {};
        case config::Demotion::keepalived:
            return {{}, cluster.track_file, demote ? "1\n" : "0\n"};
        case config::Demotion::openbsd_carp:
            return {carp_command(cluster, demote), {}, {}};
        case config::Demotion::freebsd_carp:
            return {sysctl_command(cluster, demote), {}, {}};
        case config::Demotion::command:
            return {demote ? cluster.demote_command : cluster.promote_command, {}, {}};
    }
    return {};
}

}  // namespace

std::string DemotionAction::describe() const {
    if (!argv.empty()) return join_command(argv);
    std::string value = content;
    while (!value.empty() && value.back() == '\n') value.pop_back();
    return "write " + value + " to " + file;
}

DemotionAction demote_action(const config::ClusterSettings& cluster) {
    return action_for(cluster, true);
}

DemotionAction promote_action(const config::ClusterSettings& cluster) {
    return action_for(cluster, false);
}

NodeDemotion::NodeDemotion(asio::io_context& io, ChildReaper& reaper, std::string runtime_dir)
    : io_(io),
      reaper_(reaper),
      books_((std::filesystem::path(runtime_dir) / "demotion.json").string()),
      retry_(io) {}

void NodeDemotion::configure(const config::ClusterSettings& cluster) {
    if (!configured_) {
        // An earlier run that was killed may have left the node demoted.
        std::ifstream file(books_);
        if (file) {
            const json books = json::parse(file, nullptr, /*allow_exceptions=*/false);
            applied_ = books.is_object() ? from_json(books.value("undo", json())) : std::nullopt;
            if (applied_)
                spdlog::info("demotion left by an earlier run (undo: {})", applied_->describe());
        }
        configured_ = true;
    }
    cluster_ = cluster;
    kick();
}

void NodeDemotion::want(bool demoted, std::string reason) {
    if (demoted == wanted_ && reason == reason_) return;
    wanted_ = demoted;
    reason_ = std::move(reason);
    kick();
}

void NodeDemotion::kick() {
    if (!configured_) return;
    if (settling_) {
        again_ = true;
        return;
    }
    settling_ = true;
    asio::co_spawn(io_, settle(), asio::detached);
}

// Brings what is applied in line with what is wanted: first undoes a
// demotion that is not wanted or was made with other settings, then
// demotes with the current ones. One change at a time; a failure is
// tried again after kRetryDelay.
awaitable<void> NodeDemotion::settle() {
    do {
        again_ = false;
        const bool demote = wanted_ && cluster_.demotion != config::Demotion::none;
        std::string failed;
        if (applied_ && (!demote || *applied_ != promote_action(cluster_))) {
            const DemotionAction undo = *applied_;
            failed = co_await perform(undo);
            if (failed.empty()) {
                applied_.reset();
                remember(std::nullopt);
                since_ = Clock::now();
                spdlog::info("node promoted ({})", undo.describe());
            }
        }
        if (failed.empty() && demote && !applied_) {
            const DemotionAction action = demote_action(cluster_);
            failed = co_await perform(action);
            if (failed.empty()) {
                applied_ = promote_action(cluster_);
                remember(applied_);
                since_ = Clock::now();
                spdlog::warn("node demoted: {} ({})", reason_, action.describe());
            }
        }
        if (!failed.empty()) {
            if (failed != error_) spdlog::error("cluster demotion: {}", failed);
            error_ = failed;
            retry_.expires_after(kRetryDelay);
            retry_.async_wait([this](error_code error) {
                if (!error) kick();
            });
            break;
        }
        error_.clear();
    } while (again_);
    settling_ = false;
}

awaitable<std::string> NodeDemotion::perform(const DemotionAction& action) {
    if (!action.argv.empty()) {
        const CommandResult result =
            co_await run_command(reaper_, action.argv, kDemotionCommandTimeout);
        if (result.ok) co_return std::string();
        co_return action.describe() + ": " + result.status +
            (result.output.empty() ? "" : ": " + result.output);
    }
    try {
        common::write_file_atomically(action.file, action.content);
    } catch (const std::system_error& e) {
        co_return action.describe() + ": " + e.what();
    }
    co_return std::string();
}

// The books hold the undo of the demotion in force, so that a later run
// (after a crash, or with other settings) can take it back exactly once.
void NodeDemotion::remember(const std::optional<DemotionAction>& undo) {
    std::error_code ignored;
    if (!undo) {
        std::filesystem::remove(books_, ignored);
        return;
    }
    try {
        common::write_file_atomically(books_, json{{"undo", to_json(*undo)}}.dump() + "\n", 0600);
    } catch (const std::system_error& e) {
        spdlog::error("cluster demotion: cannot keep the books in {}: {}", books_, e.what());
    }
}

awaitable<void> NodeDemotion::release() {
    want(false, "ftpproxyd is stopping");
    asio::steady_timer poll(io_);
    for (int i = 0; i < kReleasePolls && (settling_ || (applied_ && error_.empty())); ++i) {
        poll.expires_after(kReleasePoll);
        error_code ignored;
        co_await poll.async_wait(with_error(ignored));
    }
    retry_.cancel();
    if (applied_) {
        spdlog::error("node still demoted at exit ({}); the next start takes it back",
                      error_.empty() ? "undo under way" : error_);
    }
}

}  // namespace supervisor
