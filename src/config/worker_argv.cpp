#include "config/worker_argv.hpp"

#include <cstdio>

namespace config {

namespace {

// Every flag when there is TLS at all, the defaults too; nothing without.
// The CA, the name and the pin have no value to pass when not set: the
// worker then uses the system bundle and the -R host.
void add_tls_flags(const TlsSettings& tls, std::vector<std::string>& argv) {
    if (!tls.enabled()) return;
    if (!tls.certificate.empty())
        argv.insert(argv.end(), {"--tls-cert", tls.certificate, "--tls-key", tls.key});
    argv.insert(argv.end(), {"--client-tls", std::string(word_of(kClientTlsWords, tls.client)),
                             "--tls-timeout", std::to_string(tls.handshake_timeout.count()),
                             "--server-tls", std::string(word_of(kServerTlsWords, tls.server)),
                             "--tls-min-version", tls.min_version});
    if (tls.implicit) argv.emplace_back("--tls-implicit");
    if (tls.client_reuse == ClientReuse::required)
        argv.insert(argv.end(), {"--client-tls-reuse", "required"});
    for (const auto& [flag, value] : {std::pair{"--server-tls-ca", &tls.server_ca},
                                      {"--server-tls-name", &tls.server_name},
                                      {"--server-tls-fingerprint", &tls.server_fingerprint},
                                      {"--tls-ciphers", &tls.ciphers}}) {
        if (!value->empty()) argv.insert(argv.end(), {flag, *value});
    }
}

}  // namespace

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
    if (instance.data_path == DataPath::kernel) {
        char mark[16];
        std::snprintf(mark, sizeof mark, "0x%08x", global.kernel_mark);
        argv.insert(argv.end(), {"--data-path", "kernel", "--kernel-mark", mark});
    }
    add_tls_flags(instance.tls, argv);
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
