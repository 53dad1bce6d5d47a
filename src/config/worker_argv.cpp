#include "config/worker_argv.hpp"

namespace config {

std::vector<std::string> worker_argv(const GlobalSettings& global, const Instance& instance,
                                     std::size_t backend, bool handoff) {
    std::vector<std::string> argv = {
        global.worker_binary, "--foreground", "--listen-fd", std::to_string(kWorkerListenFd),
        // Redundant with the inherited socket, but the worker logs and reports them.
        "-b", instance.listen_address.to_string(), "-p", std::to_string(instance.listen_port)};
    if (instance.mode == Mode::reverse && backend < instance.backends.size()) {
        const Backend& chosen = instance.backends[backend];
        argv.insert(argv.end(), {"-R", chosen.host, "-P", std::to_string(chosen.port)});
    }
    if (instance.source_address) {
        argv.insert(argv.end(), {"-a", instance.source_address->to_string()});
    }
    argv.insert(argv.end(), {"-m", std::to_string(instance.max_sessions), "-t",
                             std::to_string(instance.idle_timeout.count()), "--data-timeout",
                             std::to_string(instance.data_timeout.count()), "--server-timeout",
                             std::to_string(instance.server_timeout.count())});
    if (instance.passive_ports) {
        argv.insert(argv.end(),
                    {"--passive-ports", std::to_string(instance.passive_ports->low) + "-" +
                                            std::to_string(instance.passive_ports->high)});
    }
    if (instance.passive_to_server) {
        argv.emplace_back("--passive-to-server");
    }
    if (handoff && instance.mode == Mode::reverse) {
        argv.emplace_back("--handoff");
    }
    // The worker refuses a pipe size with the copy relay.
    argv.insert(argv.end(), {"--relay", std::string(to_string(instance.relay))});
    if (instance.relay == Relay::splice) {
        argv.insert(argv.end(), {"--relay-pipe-size", std::to_string(instance.relay_pipe_size)});
    }
    if (instance.anonymous_only) {
        argv.emplace_back("-A");
    }
    if (instance.log_commands) {
        argv.emplace_back("-v");
    }
    argv.insert(argv.end(), {"-D", std::to_string(static_cast<int>(instance.log_level)), "--user",
                             global.worker_user});
    return argv;
}

}  // namespace config
