// ftpproxyctl's command line.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ctl {

// ftpproxyctl's own commands; the others are ftpproxyd's (control_protocol.hpp).
inline constexpr std::string_view kCheck = "check";
inline constexpr std::string_view kHelp = "help";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Arguments {
    std::string command;                // status, start, ..., help
    std::vector<std::string> names;     // instance names; "all"
    bool json = false;                  // status --json
    std::optional<std::string> file;    // check FILE
    // check --compare: a digest, or a peer's file to hash (ctl/check.hpp)
    std::optional<std::string> compare;
    std::optional<std::string> syntax;  // rules pf|nft
    std::optional<std::string> role;    // carp-event master|backup|fault
    std::optional<std::string> subject;  // carp-event ... VIP|INSTANCE
    std::optional<int> wait;             // failover --wait SECONDS
    std::optional<std::string> session;  // kill NAME SESSION
    std::optional<std::string> socket;  // -s
    std::optional<std::string> config;  // -f
};

// Throws UsageError with a message that names the problem.
Arguments parse_arguments(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace ctl
