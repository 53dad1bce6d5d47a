// ftp-proxy: one worker, one listen address. Start-up only: options, the
// listening socket, privileges, then the Worker runs until stopped.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "common/logging.hpp"
#include "common/worker_exit_codes.hpp"
#ifdef FTPPROXY_HAVE_CONNTRACK
#include "firewall/conntrack_flows.hpp"
#endif
#include "firewall/firewall.hpp"
#include "proxy/control_channel.hpp"
#include "proxy/descriptor_limit.hpp"
#include "proxy/kernel_readiness.hpp"
#include "proxy/net.hpp"
#include "proxy/options.hpp"
#include "proxy/privileges.hpp"
#include "proxy/supervisor_watch.hpp"
#include "proxy/tls.hpp"
#include "proxy/worker.hpp"

#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75  // <linux/in6.h>, which clashes with <netinet/in.h>
#endif

namespace {

using namespace proxy;

// sysexits.h values, defined where ftpproxyd reads them too.
constexpr int kExitUsage = common::kWorkerExitUsage;
constexpr int kExitNoHost = common::kWorkerExitNoHost;
constexpr int kExitUnavailable = common::kWorkerExitUnavailable;
constexpr int kExitOsError = common::kWorkerExitOsError;

// OpenBSD's ftp-proxy drives pf; on Linux the firewall is nftables.
#if defined(__OpenBSD__) || defined(__FreeBSD__)
constexpr const char* kDefaultForwardFirewall = "pf";
#else
constexpr const char* kDefaultForwardFirewall = "nftables";
#endif

// A start-up failure: the message and the exit code it maps to.
struct StartError {
    int code;
    std::string message;
};

asio::ip::address parse_address(const char* flag, const std::string& text) {
    error_code error;
    auto address = asio::ip::make_address(text, error);
    if (error) throw UsageError(std::string(flag) + ": \"" + text + "\" is not an IP address");
    return canonical(address);
}

// -R may be a name: resolved once, here, before any chroot. With -a, the
// server's address must be of the same family.
tcp::endpoint resolve_server(asio::io_context& io, const Options& options,
                             const std::optional<asio::ip::address>& source) {
    error_code error;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(*options.reverse_host, std::to_string(options.server_port),
                                    tcp::resolver::numeric_service, error);
    if (error || results.empty())
        throw StartError{kExitNoHost, "-R: cannot resolve \"" + *options.reverse_host +
                                          "\": " + error.message()};
    for (const auto& entry : results) {
        auto endpoint = canonical(entry.endpoint());
        if (!source || endpoint.address().is_v4() == source->is_v4()) return endpoint;
    }
    throw StartError{kExitUsage, "-a " + source->to_string() + " and -R " + *options.reverse_host +
                                     " are of different address families"};
}

tcp::acceptor open_listener(asio::io_context& io, const Options& options) {
    error_code error;
    if (options.listen_fd) {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        int type = 0;
        socklen_t type_length = sizeof type;
        if (getsockname(*options.listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
            getsockopt(*options.listen_fd, SOL_SOCKET, SO_TYPE, &type, &type_length) != 0 ||
            type != SOCK_STREAM)
            throw StartError{kExitUsage, "--listen-fd " + std::to_string(*options.listen_fd) +
                                             " is not an inherited TCP socket"};
        tcp::acceptor acceptor(io);
        acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), *options.listen_fd,
                        error);
        if (error) throw StartError{kExitOsError, "--listen-fd: " + error.message()};
        return acceptor;
    }
    tcp::endpoint endpoint{parse_address("-b", options.listen_address), options.listen_port};
    tcp::acceptor acceptor(io);
    acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error && options.tproxy) {
        // tproxy delivers connections addressed to other hosts to this socket.
        const int on = 1;
        const bool v4 = endpoint.address().is_v4();
        if (setsockopt(acceptor.native_handle(), v4 ? SOL_IP : SOL_IPV6,
                       v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &on, sizeof on) != 0)
            throw StartError{kExitOsError, std::string("--tproxy: cannot set IP_TRANSPARENT: ") +
                                               std::strerror(errno)};
    }
    if (!error) acceptor.bind(endpoint, error);
    if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (error)
        throw StartError{kExitOsError,
                         "cannot listen on " + format_endpoint(endpoint) + ": " + error.message()};
    return acceptor;
}

// The worker drops root, and an unprivileged F_SETPIPE_SZ above
// fs.pipe-max-size fails: refuse such a size now rather than relay through
// smaller pipes than asked.
void check_relay_pipe_size(const RelayConfig& relay) {
    if (!relay.splice) return;
    std::ifstream sysctl("/proc/sys/fs/pipe-max-size");
    std::size_t max = 0;
    if (!(sysctl >> max)) return;  // not Linux /proc: the pipe says at run time
    if (relay.pipe_size > max)
        throw StartError{kExitUsage, "--relay-pipe-size " + std::to_string(relay.pipe_size) +
                                         ": above fs.pipe-max-size (" + std::to_string(max) +
                                         "), which binds the worker once it drops root; raise "
                                         "the sysctl or ask for less"};
}

TlsTuning tls_tuning(const Options& options) {
    return {options.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION,
            options.tls_ciphers};
}

// Read now, as root and before any chroot: the worker cannot open the files
// once it has dropped privileges.
void load_client_tls(const Options& options, Settings& settings) {
    settings.tls_timeout = options.tls_timeout;
    settings.implicit_tls = options.tls_implicit;
    if (!options.tls_cert) return;
    try {
        settings.client_tls_context =
            make_server_tls_context(*options.tls_cert, *options.tls_key, tls_tuning(options));
    } catch (const TlsSetupError& e) {
        throw StartError{kExitUsage, e.what()};
    }
    if (options.client_tls == "optional") settings.client_tls = ftp::ClientTls::Optional;
    if (options.client_tls == "required") settings.client_tls = ftp::ClientTls::Required;
    settings.client_tls_reuse_required = options.client_tls_reuse == "required";
}

// The CA bundle too is read now (see load_client_tls).
void load_server_tls(const Options& options, Settings& settings) {
    if (options.server_tls == "off") return;
    settings.server_tls =
        options.server_tls == "required" ? ftp::ServerTls::Required : ftp::ServerTls::Auto;
    auto& policy = settings.server_tls_policy;
    policy.name = options.server_tls_name.value_or(*options.reverse_host);
    if (options.server_tls_fingerprint)
        policy.pin = parse_fingerprint(*options.server_tls_fingerprint);
    try {
        policy.context = make_client_tls_context(options.server_tls_ca.value_or(""),
                                                 policy.pin.has_value(), tls_tuning(options));
    } catch (const TlsSetupError& e) {
        throw StartError{kExitUsage, e.what()};
    }
}

Settings make_settings(const Options& options, asio::io_context& io) {
    Settings settings;
    if (options.source_address)
        settings.source_address = parse_address("-a", *options.source_address);
    settings.forward = !options.reverse_host;
    settings.transparent = options.tproxy;
    if (options.reverse_host)
        settings.server = resolve_server(io, options, settings.source_address);
    settings.anonymous_only = options.anonymous_only;
    settings.verbose = options.verbose;
    settings.passive_to_server = options.passive_to_server;
    settings.data_from_port_20 = options.data_from_port_20;
    settings.idle_timeout = options.idle_timeout;
    settings.data_timeout = options.data_timeout;
    settings.server_timeout = options.server_timeout;
    settings.passive_ports = options.passive_ports;
    settings.relay = {options.relay_splice, options.relay_pipe_size};
    check_relay_pipe_size(settings.relay);
    load_client_tls(options, settings);
    load_server_tls(options, settings);
    return settings;
}

// After the firewall's table exists (it loads conntrack, whose settings
// are checked here): the system's readiness, then the conntrack events
// (subscribed while the worker still has the privilege).
#ifdef FTPPROXY_HAVE_CONNTRACK
std::unique_ptr<firewall::ConntrackFlows> start_kernel_data_path(asio::io_context& io,
                                                                 const Options& options,
                                                                 Settings& settings) {
    // Forward mode: each session's server has its client's family; a
    // dual-stack listener ("::") serves both.
    const bool listen_v4 = settings.listen.address().is_v4();
    std::string problem = kernel_path_problem(
        listen_v4, settings.forward ? listen_v4 : settings.server.address().is_v4());
    if (problem.empty() && settings.forward && settings.listen.address().is_unspecified() &&
        !listen_v4)
        problem = kernel_path_problem(true, true);
    if (!problem.empty()) throw StartError{kExitUnavailable, problem};
    try {
        auto flows = std::make_unique<firewall::ConntrackFlows>(io, options.kernel_mark);
        flows->start();
        settings.kernel_flows = flows.get();
        return flows;
    } catch (const firewall::Error& e) {
        throw StartError{kExitUnavailable, std::string("--data-path kernel: ") + e.what()};
    }
}
#endif

int run(const std::vector<std::string>& args) {
    const pid_t parent = ::getppid();  // ftpproxyd, when started with --control-fd
    Options options = parse_options(args);
#ifndef FTPPROXY_HAVE_CONNTRACK
    // Before anything is set up (the firewall's table among it).
    if (options.kernel_data_path)
        throw StartError{kExitUnavailable,
                         "--data-path kernel: this build has no conntrack support "
                         "(libnetfilter_conntrack; -DFTPPROXY_CONNTRACK=ON, Linux only)"};
#endif
    common::setup_logging(options.debug ? common::LogTarget::Stderr : common::LogTarget::Syslog,
                          options.log_level, "ftp-proxy");
    asio::io_context io(1);
    Settings settings = make_settings(options, io);
    tcp::acceptor listener = open_listener(io, options);
    error_code ignored;
    auto listening = canonical(listener.local_endpoint(ignored));
    if (options.handoff) {
        // Accepted control connections inherit it (see set_transparent).
        error_code error;
        set_transparent(listener.native_handle(), listening.address().is_v4(), error);
        if (error)
            throw StartError{kExitOsError,
                             "--handoff: cannot set IP_TRANSPARENT on the listening "
                             "socket: " +
                                 error.message()};
    }
    settings.handoff = options.handoff;
    settings.listen = listening;
    std::unique_ptr<firewall::Backend> firewall;
    const std::string firewall_name = options.firewall.value_or(
        options.reverse_host && !options.kernel_data_path ? "none" : kDefaultForwardFirewall);
    firewall::RuleOptions rule_options{options.queue, options.tag, options.verbose ? 1 : 0, {}};
    if (options.kernel_data_path) rule_options.kernel_mark = options.kernel_mark;
    try {
        firewall = firewall::make_backend(firewall_name, rule_options,
                                          "p" + std::to_string(listening.port()), io);
        firewall->init();
    } catch (const firewall::Error& e) {
        throw StartError{kExitUnavailable, "--firewall " + firewall_name + ": " + e.what()};
    }
    if (firewall_name != "none") settings.firewall = firewall.get();
#ifdef FTPPROXY_HAVE_CONNTRACK
    std::unique_ptr<firewall::ConntrackFlows> kernel_flows;
    if (options.kernel_data_path) kernel_flows = start_kernel_data_path(io, options, settings);
#endif
    raise_descriptor_limit(options.max_sessions);
    try {
        drop_privileges(options.user, options.chroot_dir,
                        {options.data_from_port_20, firewall_name == "nftables", options.handoff});
    } catch (const std::runtime_error& e) {
        throw StartError{kExitOsError, e.what()};
    }
    if (!options.debug && !options.foreground) {
        if (daemon(0, 0) != 0) throw StartError{kExitOsError, "daemon() failed"};
        io.notify_fork(asio::io_context::fork_child);
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (settings.forward)
        spdlog::info("listening on {}, forward proxy (firewall: {}), max {} sessions",
                     format_endpoint(listening), firewall_name, options.max_sessions);
    else
        spdlog::info(
            "listening on {}, reverse proxy to {}, max {} sessions, client TLS {}, server TLS "
            "{}, data path {}",
            format_endpoint(listening), format_endpoint(settings.server), options.max_sessions,
            options.client_tls, options.server_tls,
            options.kernel_data_path
                ? fmt::format("kernel (nftables, conntrack mark {:#010x})", options.kernel_mark)
                : std::string("relay"));
    Worker worker(io, std::move(settings), std::move(listener), options.max_sessions);
    std::optional<ControlChannel> control;
    if (options.control_fd) {
        control.emplace(
            io, *options.control_fd,
            ControlChannel::Handlers{
                [&worker] { return worker.stats_json(); }, [&worker] { worker.drain(); },
                [&worker](const std::string& address, const std::string& port) {
                    return worker.use_backend(address, port);
                },
                [&worker] { return worker.sessions_json(); },
                [&worker](const std::string& id) { return worker.kill(id); }});
        control->start();
    }
    worker.on_finished([&] {
        if (control) control->close();
#ifdef FTPPROXY_HAVE_CONNTRACK
        if (kernel_flows) kernel_flows->stop();
#endif
    });
    worker.start();
    if (options.control_fd) drain_when_supervisor_dies(parent);
    io.run();
    firewall->shutdown();
    spdlog::info("exiting");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        return run(args);
    } catch (const InfoRequest& info) {
        std::cout << info.text;
        return 0;
    } catch (const UsageError& e) {
        std::cerr << "ftp-proxy: " << e.what() << "\n" << usage_text();
        return kExitUsage;
    } catch (const StartError& e) {
        std::cerr << "ftp-proxy: " << e.message << "\n";
        spdlog::error("{}", e.message);
        return e.code;
    }
}
