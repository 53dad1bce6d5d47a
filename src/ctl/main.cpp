// ftpproxyctl: asks ftpproxyd over its control socket and prints the answer
// for people (or, with status --json, for scripts). Exit codes: exit_codes.hpp.
#include <iostream>
#include <string>
#include <vector>

#include "common/control_protocol.hpp"
#include "common/default_paths.hpp"
#include "config/loader.hpp"
#include "ctl/arguments.hpp"
#include "ctl/check.hpp"
#include "ctl/client.hpp"
#include "ctl/exit_codes.hpp"
#include "ctl/render.hpp"

namespace {

using namespace ctl;
using nlohmann::json;
namespace control = common::control;

// A reload may wait for the firewall command (30 s at most in ftpproxyd).
constexpr std::chrono::seconds kRequestTimeout{15};
constexpr std::chrono::seconds kReloadTimeout{60};

std::string socket_path(const Arguments& args) {
    if (args.socket) return *args.socket;
    if (args.config) {
        const auto loaded = config::load_config_file(*args.config);
        if (loaded.config) return loaded.config->global.control_socket;
        std::cerr << "ftpproxyctl: " << *args.config << " has errors (see `ftpproxyctl check "
                  << *args.config << "`); using " << common::kDefaultControlSocket << "\n";
    }
    return std::string(common::kDefaultControlSocket);
}

// The answer's error on stderr; the exit code for a refusal.
int refused(const json& answer) {
    std::cerr << "ftpproxyctl: "
              << answer.value(control::kFieldError, std::string("ftpproxyd refused")) << "\n";
    return kExitFailed;
}

int check(const Arguments& args) {
    std::string file;
    if (args.file) {
        file = *args.file;
    } else if (args.config) {
        file = *args.config;
    } else {
        file = common::kDefaultConfigFile;
        try {  // the file the running ftpproxyd reloads from, if there is one
            const json info =
                request(socket_path(args), control::make_request(control::kInfo), kRequestTimeout);
            if (control::answer_ok(info)) file = info.value("config", file);
        } catch (const Unreachable&) {
        }
    }
    const CheckOutcome outcome = check_file(file, args.compare);
    std::cout << outcome.text;
    return outcome.exit_code;
}

int run(const Arguments& args) {
    if (args.command == kHelp) {
        std::cout << usage_text();
        return kExitOk;
    }
    if (args.command == kCheck) return check(args);

    json message = control::make_request(args.command, args.names, args.syntax);
    if (args.role) message[control::kFieldRole] = *args.role;
    if (args.subject) message[control::kFieldSubject] = *args.subject;
    if (args.wait) message[control::kFieldWait] = *args.wait;
    if (args.session) message[control::kFieldSession] = *args.session;
    auto timeout = args.command == control::kReload ? kReloadTimeout : kRequestTimeout;
    // failover answers after its wait for the addresses to leave.
    if (args.command == control::kFailover)
        timeout = std::chrono::seconds(args.wait.value_or(10)) + kRequestTimeout;
    const json answer = request(socket_path(args), message, timeout);

    if (args.command == control::kStatus) {
        if (!control::answer_ok(answer)) return refused(answer);
        std::cout << (args.json ? answer.dump(2) + "\n" : render_status(answer));
        return status_exit_code(answer, args.names.empty());
    }
    if (args.command == control::kSessions) {
        if (!control::answer_ok(answer)) return refused(answer);
        std::cout << (args.json ? answer.dump(2) + "\n" : render_sessions(answer));
        return kExitOk;
    }
    if (args.command == control::kReload) {
        std::cout << render_reload(answer);
        return control::answer_ok(answer) ? kExitOk : refused(answer);
    }
    if (args.command == control::kRules) {
        if (!control::answer_ok(answer)) return refused(answer);
        std::cout << answer.value("text", std::string());
        return kExitOk;
    }
    if (answer.contains("message")) {  // carp-event, failover, failback: one line
        if (!control::answer_ok(answer)) return refused(answer);
        std::cout << answer.value("message", std::string()) << "\n";
        return kExitOk;
    }
    std::cout << render_results(answer);
    return control::answer_ok(answer) ? kExitOk : refused(answer);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_arguments(std::vector<std::string>(argv + 1, argv + argc)));
    } catch (const UsageError& e) {
        std::cerr << "ftpproxyctl: " << e.what() << "\n" << usage_text();
        return kExitUsage;
    } catch (const Unreachable& e) {
        std::cerr << "ftpproxyctl: " << e.what() << "\n";
        return kExitUnreachable;
    }
}
