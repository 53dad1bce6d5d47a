// libFuzzer target for ftpproxyctl's command line (src/ctl/arguments.cpp):
// the input is an argv, one argument per line. Invariants:
// - parse_arguments gives Arguments or a UsageError (one non-empty line);
//   no other exception;
// - what comes out is a request ftpproxyd understands: a known command,
//   names only where the command takes them (and always for start, stop,
//   restart, drain), --json only with status, a file and --compare only
//   with check, a syntax (pf or nft) only with rules, a role (master,
//   backup, fault) and its subject only with carp-event (always a role
//   there), --wait (1..300) only with failover;
// - round trip: the Arguments written back as an argv parse the same.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "ctl/arguments.hpp"
#include "fuzz_support.hpp"

namespace {

bool same(const ctl::Arguments& a, const ctl::Arguments& b) {
    return a.command == b.command && a.names == b.names && a.json == b.json && a.file == b.file &&
           a.syntax == b.syntax && a.socket == b.socket && a.config == b.config &&
           a.compare == b.compare && a.role == b.role && a.subject == b.subject &&
           a.wait == b.wait && a.session == b.session;
}

bool is_instance_command(std::string_view command) {
    return command == "start" || command == "stop" || command == "restart" || command == "drain";
}

void check_request(const ctl::Arguments& args) {
    constexpr std::array<std::string_view, 14> kCommands = {
        "status", "start",      "stop",     "restart",  "drain",    "reload", "check",
        "rules",  "carp-event", "failover", "failback", "sessions", "kill",   "help"};
    FUZZ_CHECK(std::find(kCommands.begin(), kCommands.end(), args.command) != kCommands.end());
    if (args.command == "help") return;  // -h ends the parse: flags before it do not matter
    FUZZ_CHECK(args.names.empty() || args.command == "status" || args.command == "sessions" ||
               args.command == "kill" || is_instance_command(args.command));
    // kill: exactly one instance and one session.
    FUZZ_CHECK(args.session.has_value() == (args.command == "kill"));
    FUZZ_CHECK(args.command != "kill" || args.names.size() == 1);
    FUZZ_CHECK(!is_instance_command(args.command) || !args.names.empty());
    for (const std::string& name : args.names) FUZZ_CHECK(name.size() <= 1 || name[0] != '-');
    FUZZ_CHECK(!args.json || args.command == "status" || args.command == "sessions");
    FUZZ_CHECK(!args.file || args.command == "check");
    FUZZ_CHECK(!args.compare || args.command == "check");
    FUZZ_CHECK(!args.syntax ||
               (args.command == "rules" && (*args.syntax == "pf" || *args.syntax == "nft")));
    FUZZ_CHECK(args.role.has_value() == (args.command == "carp-event"));
    FUZZ_CHECK(!args.role || *args.role == "master" || *args.role == "backup" ||
               *args.role == "fault");
    FUZZ_CHECK(!args.subject ||
               (args.role && (args.subject->size() <= 1 || (*args.subject)[0] != '-')));
    FUZZ_CHECK(!args.wait || (args.command == "failover" && *args.wait >= 1 && *args.wait <= 300));
}

std::vector<std::string> to_argv(const ctl::Arguments& args) {
    std::vector<std::string> argv;
    if (args.socket) argv.insert(argv.end(), {"--socket", *args.socket});
    if (args.config) argv.insert(argv.end(), {"--config", *args.config});
    argv.push_back(args.command);
    if (args.json) argv.emplace_back("--json");
    argv.insert(argv.end(), args.names.begin(), args.names.end());
    if (args.session) argv.push_back(*args.session);
    if (args.file) argv.push_back(*args.file);
    if (args.syntax) argv.push_back(*args.syntax);
    if (args.compare) argv.insert(argv.end(), {"--compare", *args.compare});
    if (args.role) argv.push_back(*args.role);
    if (args.subject) argv.push_back(*args.subject);
    if (args.wait) argv.insert(argv.end(), {"--wait", std::to_string(*args.wait)});
    return argv;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> argv;
    for (const std::string_view line : fuzz::lines_of(fuzz::as_text(data, size)))
        argv.emplace_back(line);
    ctl::Arguments args;
    try {
        args = ctl::parse_arguments(argv);
    } catch (const ctl::UsageError& error) {
        const std::string_view message = error.what();
        FUZZ_CHECK(!message.empty() && message.find('\n') == std::string_view::npos);
        return 0;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "parse_arguments threw %s: %s\n", typeid(error).name(), error.what());
        FUZZ_CHECK(false);
    }
    check_request(args);
    if (args.command == "help") return 0;
    try {
        FUZZ_CHECK(same(ctl::parse_arguments(to_argv(args)), args));
    } catch (const ctl::UsageError& error) {
        std::fprintf(stderr, "the arguments written back are refused: %s\n", error.what());
        FUZZ_CHECK(false);
    }
    return 0;
}
