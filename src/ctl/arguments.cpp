#include "ctl/arguments.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "common/control_protocol.hpp"
#include "common/default_paths.hpp"

namespace ctl {

namespace {

namespace control = common::control;
using control::is_instance_command;

// ftpproxyd's commands (but info, which check uses), and our own.
constexpr std::array<std::string_view, 14> kCommands = {control::kSessions,
                                                        control::kKill,
                                                        control::kStatus,
                                                        control::kStart,
                                                        control::kStop,
                                                        control::kRestart,
                                                        control::kDrain,
                                                        control::kReload,
                                                        kCheck,
                                                        control::kRules,
                                                        control::kCarpEvent,
                                                        control::kFailover,
                                                        control::kFailback,
                                                        kHelp};

// keepalived's notify passes MASTER, BACKUP, FAULT: taken as they come.
std::string lower(std::string word) {
    for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return word;
}

int parse_wait(const std::string& text) {
    int value = 0;
    const bool digits = !text.empty() && text.size() <= 3 &&
                        text.find_first_not_of("0123456789") == std::string::npos;
    if (digits) value = std::stoi(text);
    if (!digits || value < 1 || value > control::kMaxFailoverWait) {
        throw UsageError("--wait: \"" + text + "\" is not a number of seconds, 1.." +
                         std::to_string(control::kMaxFailoverWait));
    }
    return value;
}

}  // namespace

std::string usage_text() {
    return "usage: ftpproxyctl [-s socket | -f config] command [arguments]\n"
           "commands:\n"
           "  status [NAME...] [--json]   the instances: state, pid, sessions, restarts\n"
           "  start NAME...|all           start stopped instances\n"
           "  stop NAME...|all            stop: sessions are closed (421)\n"
           "  restart NAME...|all         new worker now; the old one finishes its sessions\n"
           "  drain NAME...|all           no new connections; stop after the last session\n"
           "  reload                      re-read the configuration file (as SIGHUP)\n"
           "  sessions [NAME...] [--json] the live sessions: client, server, user, transfer\n"
           "  kill NAME SESSION           end one session (the SESSION of sessions) with a 421\n"
           "  check [FILE] [--compare DIGEST|PEERFILE]\n"
           "                              check a configuration file without applying it; print\n"
           "                              its sha256, and whether it equals DIGEST or PEERFILE's\n"
           "  rules [pf|nft]              print the firewall rules of the running configuration\n"
           "  carp-event ROLE [VIP|NAME]  the cluster layer's news: master, backup or fault\n"
           "  failover [--wait SECONDS]   demote, wait for the addresses to leave, drain\n"
           "  failback                    undo failover: start the instances, promote when fit\n"
           "options:\n"
           "  -s, --socket PATH   ftpproxyd's control socket (default " +
           std::string(common::kDefaultControlSocket) + ")\n" +
           "  -f, --config FILE   take the socket from this configuration (global.control_socket)\n"
           "exit codes: 0 done (status: all running), 1 refused or invalid, 2 usage,\n"
           "            3 some instance not running, 4 ftpproxyd unreachable\n";
}

Arguments parse_arguments(const std::vector<std::string>& args) {
    Arguments parsed;
    std::vector<std::string> words;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const auto value = [&]() -> std::string {
            if (i + 1 == args.size()) throw UsageError(arg + " needs a value");
            return args[++i];
        };
        if (arg == "-s" || arg == "--socket") {
            parsed.socket = value();
        } else if (arg == "-f" || arg == "--config") {
            parsed.config = value();
        } else if (arg == "--compare") {
            parsed.compare = value();
        } else if (arg == "--json" || arg == "-j") {
            parsed.json = true;
        } else if (arg == "--wait" || arg == "-w") {
            parsed.wait = parse_wait(value());
        } else if (arg == "-h" || arg == "--help") {
            parsed.command = kHelp;
            return parsed;
        } else if (arg.size() > 1 && arg[0] == '-') {
            throw UsageError("unknown option \"" + arg + "\"");
        } else {
            words.push_back(arg);
        }
    }
    if (words.empty()) throw UsageError("no command given");
    parsed.command = words.front();
    words.erase(words.begin());
    if (std::find(kCommands.begin(), kCommands.end(), parsed.command) == kCommands.end()) {
        throw UsageError("unknown command \"" + parsed.command + "\"");
    }
    if (parsed.json && parsed.command != control::kStatus && parsed.command != control::kSessions) {
        throw UsageError("--json goes with status and sessions only");
    }
    if (parsed.wait && parsed.command != control::kFailover) {
        throw UsageError("--wait goes with failover only");
    }
    if (parsed.compare && parsed.command != kCheck) {
        throw UsageError("--compare goes with check only");
    }
    if (parsed.command == control::kStatus || parsed.command == control::kSessions) {
        parsed.names = words;
    } else if (parsed.command == control::kKill) {
        if (words.size() != 2)
            throw UsageError("kill takes an instance name and a session (see sessions)");
        parsed.names = {words[0]};
        parsed.session = words[1];
    } else if (is_instance_command(parsed.command)) {
        if (words.empty()) {
            throw UsageError(parsed.command + " needs an instance name, or all (see status)");
        }
        parsed.names = words;
    } else if (parsed.command == kCheck) {
        if (words.size() > 1) throw UsageError("check takes one file");
        if (!words.empty()) parsed.file = words.front();
    } else if (parsed.command == control::kRules) {
        if (words.size() > 1) throw UsageError("rules takes one syntax: pf or nft");
        if (!words.empty()) {
            if (words.front() != "pf" && words.front() != "nft" && words.front() != "nftables") {
                throw UsageError("rules: unknown syntax \"" + words.front() + "\" (pf or nft)");
            }
            parsed.syntax = words.front() == "nftables" ? "nft" : words.front();
        }
    } else if (parsed.command == control::kCarpEvent) {
        if (words.empty() || words.size() > 2 || !control::is_role(lower(words.front()))) {
            throw UsageError(
                "carp-event takes a role (master, backup or fault) and optionally "
                "the VIP or instance it is about");
        }
        parsed.role = lower(words.front());
        if (words.size() == 2) parsed.subject = words.back();
    } else if (!words.empty()) {
        throw UsageError(parsed.command + " takes no arguments");
    }
    return parsed;
}

}  // namespace ctl
