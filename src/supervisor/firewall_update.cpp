#include "supervisor/firewall_update.hpp"

#include <spdlog/spdlog.h>

#include <system_error>

#include "common/atomic_file.hpp"
#include "config/firewall_rules.hpp"
#include "firewall/nft_fragment.hpp"
#include "supervisor/run_command.hpp"

namespace supervisor {

namespace {

awaitable<FirewallResult> write_and_load(ChildReaper& reaper, config::Config config,
                                         std::string text) {
    const std::string& file = config.global.rules_file;
    try {
        common::write_file_atomically(file, text);
    } catch (const std::system_error& e) {
        FirewallResult result{false, std::string("cannot write the rules: ") + e.what()};
        spdlog::error("firewall: {}", result.message);
        co_return result;
    }
    const auto& command = config.global.reload_command;
    if (command.empty()) {
        co_return FirewallResult{true, "wrote " + file + " (reload_command: [], not loaded)"};
    }
    const CommandResult run = co_await run_command(reaper, command, kFirewallCommandTimeout);
    if (!run.ok) {
        std::string message =
            "wrote " + file + ", but `" + join_command(command) + "` failed (" + run.status + ")";
        if (!run.output.empty()) message += ": " + run.output;
        FirewallResult result{false, std::move(message)};
        spdlog::error("firewall: {}", result.message);
        co_return result;
    }
    spdlog::info("firewall: wrote {} and ran `{}`", file, join_command(command));
    co_return FirewallResult{true, "wrote " + file + " and ran `" + join_command(command) + "`"};
}

}  // namespace

awaitable<FirewallResult> update_firewall(ChildReaper& reaper, config::Config config) {
    auto text = config::render_firewall_rules(config);
    if (!text) co_return FirewallResult{true, "none: no rules written"};
    co_return co_await write_and_load(reaper, std::move(config), std::move(*text));
}

awaitable<FirewallResult> clear_firewall(ChildReaper& reaper, config::Config config) {
    config.instances.clear();
    auto text = config::render_firewall_rules(config);
    if (!text) co_return FirewallResult{true, "none: no rules written"};
    if (config.global.firewall == config::Firewall::nftables)
        text = firewall::render_nft_fragment_removal();
    co_return co_await write_and_load(reaper, std::move(config), std::move(*text));
}

}  // namespace supervisor
