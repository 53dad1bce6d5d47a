// ftpproxyd: the supervisor. Start-up only: options, the configuration, the
// log, then the Supervisor runs until SIGTERM.
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/default_paths.hpp"
#include "common/logging.hpp"
#include "config/loader.hpp"
#include "supervisor/supervisor.hpp"

namespace {

using namespace supervisor;

// sysexits.h values, as the worker uses them.
constexpr int kExitUsage = 64;
constexpr int kExitOsError = 71;
constexpr int kExitConfig = 78;

std::string usage_text() {
    return "usage: ftpproxyd [-d] [-n] [-f file]\n"
           "  -f, --config file  the configuration (default " +
           std::string(common::kDefaultConfigFile) + ")\n" +
           "  -d, --debug        log to standard error, workers too (-d), instead of syslog\n"
           "  -n, --check        check the configuration, print its problems, and exit\n"
           "      --help, --version\n"
           "Runs in the foreground (systemd Type=notify, or rc.d with rc_bg). Signals:\n"
           "SIGHUP reloads the configuration, SIGTERM drains the workers and exits.\n"
           "Control it with ftpproxyctl(8).\n";
}

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string config{common::kDefaultConfigFile};
    bool debug = false;
    bool check_only = false;
};

Options parse_options(const std::vector<std::string>& args) {
    Options options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "-f" || arg == "--config") {
            if (i + 1 == args.size()) throw UsageError(arg + " needs a file name");
            options.config = args[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            options.config = arg.substr(9);
        } else if (arg == "-d" || arg == "--debug") {
            options.debug = true;
        } else if (arg == "-n" || arg == "--check") {
            options.check_only = true;
        } else {
            throw UsageError("unknown option \"" + arg + "\"");
        }
    }
    return options;
}

// Every problem on standard error, one line each; true when there is none.
std::optional<config::Config> load_or_report(const std::string& path) {
    config::LoadResult loaded = config::load_config_file(path);
    for (const auto& error : loaded.errors) std::cerr << to_string(error) << "\n";
    return std::move(loaded.config);
}

int run(const Options& options) {
    std::optional<config::Config> config = load_or_report(options.config);
    if (!config) {
        std::cerr << "ftpproxyd: " << options.config << " has errors; nothing was started\n";
        return kExitConfig;
    }
    // ftpproxyctl check reads the file the daemon names: make it absolute.
    std::error_code ignored;
    const std::string config_path = std::filesystem::absolute(options.config, ignored).string();
    if (options.check_only) {
        std::cout << options.config << ": OK, " << config->instances.size() << " instance(s)\n";
        return 0;
    }
    common::setup_logging(options.debug ? common::LogTarget::Stderr : common::LogTarget::Syslog,
                          static_cast<int>(config->global.log_level), "ftpproxyd");
    std::signal(SIGPIPE, SIG_IGN);

    asio::io_context io(1);
    SupervisorOptions supervisor_options{config_path, options.debug, RestartPolicy{}};
    Supervisor supervisor(io, std::move(supervisor_options), std::move(*config));
    try {
        supervisor.start();
    } catch (const std::runtime_error& e) {
        std::cerr << "ftpproxyd: " << e.what() << "\n";
        spdlog::error("{}", e.what());
        return kExitOsError;
    }
    io.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    for (const auto& arg : args) {
        if (arg == "--help" || arg == "-h") {
            std::cout << usage_text();
            return 0;
        }
        if (arg == "--version") {
            std::cout << "ftpproxyd " << FTPPROXY_VERSION << "\n";
            return 0;
        }
    }
    try {
        return run(parse_options(args));
    } catch (const UsageError& e) {
        std::cerr << "ftpproxyd: " << e.what() << "\n" << usage_text();
        return kExitUsage;
    }
}
