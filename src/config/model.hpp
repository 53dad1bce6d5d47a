// The supervisor's configuration after validation: every value parsed and
// range-checked, defaults applied. Code that runs workers or writes firewall
// rules reads only this, never YAML, and need not check anything again.
// The YAML schema is documented in docs/configuration.md.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/default_paths.hpp"
#include "common/net_address.hpp"
#include "config/log_level.hpp"

namespace config {

enum class Mode { reverse, forward };
enum class Firewall { none, nftables, pf };
enum class PfSyntax { openbsd, freebsd };
// How the worker relays data connections (--relay).
enum class Relay { splice, copy };

std::string_view to_string(Mode mode);
std::string_view to_string(Firewall firewall);
std::string_view to_string(PfSyntax syntax);
constexpr std::string_view to_string(Relay relay) {
    return relay == Relay::splice ? "splice" : "copy";
}
// Who carries the data connections (--data-path): the worker's relay, or
// the kernel, which the firewall tells to translate each one (issue 13).
enum class DataPath { relay, kernel };
constexpr std::string_view to_string(DataPath path) {
    return path == DataPath::relay ? "relay" : "kernel";
}
// The conntrack mark of the connections the kernel carries (--kernel-mark):
// "FTP" in ASCII. The operator's forward chain accepts it.
inline constexpr std::uint32_t kDefaultKernelMark = 0x00465450;

// Defaults, named once. The worker's own defaults are repeated here on
// purpose: the supervisor always passes every value, so a worker built with
// other defaults still runs as the configuration says.
inline constexpr std::uint16_t kFtpPort = 21;
inline constexpr int kDefaultMaxSessions = 100;
inline constexpr int kMaxSessionsLimit = 20000;  // the worker's -m bound
inline constexpr std::chrono::seconds kDefaultIdleTimeout{86400};
inline constexpr std::chrono::seconds kDefaultDataTimeout{30};
// The worker's --server-timeout: connect to the backend, then its greeting.
inline constexpr std::chrono::seconds kDefaultServerTimeout{30};
// The worker's rule: splice(2) exists only on Linux, and elsewhere the worker
// refuses --relay splice, so the default (and the only choice) there is copy.
#ifdef __linux__
inline constexpr bool kSpliceAvailable = true;
#else
inline constexpr bool kSpliceAvailable = false;
#endif
inline constexpr Relay kDefaultRelay = kSpliceAvailable ? Relay::splice : Relay::copy;
// Capacity asked for each relay pipe (--relay-pipe-size), and the worker's bounds.
inline constexpr int kDefaultRelayPipeSize = 256 * 1024;
inline constexpr int kMinRelayPipeSize = 4096;
inline constexpr int kMaxRelayPipeSize = 64 * 1024 * 1024;
// The ftp-proxy that `cmake --install` (or the package) put next to ftpproxyd,
// from the build's install prefix (model.cpp): a package built with prefix
// /usr needs no worker_binary line in its file.
extern const std::string_view kDefaultWorkerBinary;
inline constexpr std::string_view kDefaultWorkerUser = "_ftp_proxy";
inline constexpr std::string_view kDefaultNftRulesFile = "/etc/ftpproxy/ftpproxy.nft";
inline constexpr std::string_view kDefaultPfRulesFile = "/etc/ftpproxy/pf.conf";
inline constexpr std::string_view kNftBinary = "/usr/sbin/nft";
inline constexpr std::string_view kPfctlBinary = "/sbin/pfctl";
inline constexpr std::string_view kPfConf = "/etc/pf.conf";
// How long an old worker may go on serving its sessions after a reload, a
// restart or a stop of ftpproxyd, before its sessions get a 421.
inline constexpr std::chrono::seconds kDefaultDrainTimeout{300};

struct GlobalSettings {
    std::string control_socket{common::kDefaultControlSocket};
    std::string runtime_dir{common::kDefaultRuntimeDir};
    std::string worker_binary{kDefaultWorkerBinary};
    std::string worker_user{kDefaultWorkerUser};
    // Empty: the control socket is root's alone (0600); else also this
    // group's (0660).
    std::string control_group;
    std::chrono::seconds drain_timeout = kDefaultDrainTimeout;
    LogLevel log_level = LogLevel::notice;
    // none by default: the firewall is only touched when the file asks for it.
    Firewall firewall = Firewall::none;
    PfSyntax pf_syntax = PfSyntax::openbsd;
    std::string rules_file;                   // empty only with Firewall::none
    std::vector<std::string> reload_command;  // argv, no shell; empty: do not reload
    std::uint32_t kernel_mark = kDefaultKernelMark;  // instances with data_path: kernel
    // Where ftpproxyd serves /metrics (Prometheus); unset: nowhere (default).
    std::optional<common::Endpoint> metrics_listen;
};

// A backend: an IP literal (canonical form) or a host name.
struct Backend {
    std::string host;
    std::uint16_t port = kFtpPort;
    bool operator==(const Backend&) const = default;
};
inline constexpr std::size_t kMaxBackends = 8;

// ftpproxyd's active check of each backend: connect, read the 220 greeting
// (optionally log in), QUIT. A backend is up after `rise` checks in a row
// succeeded and down after `fall` failed (the first check decides at once).
inline constexpr std::chrono::milliseconds kDefaultHealthInterval{2000};
inline constexpr std::chrono::milliseconds kDefaultHealthTimeout{2000};
inline constexpr int kDefaultHealthRise = 2;
inline constexpr int kDefaultHealthFall = 2;
struct HealthCheck {
    bool enabled = true;
    std::chrono::milliseconds interval = kDefaultHealthInterval;
    std::chrono::milliseconds timeout = kDefaultHealthTimeout;  // for the whole check
    int rise = kDefaultHealthRise;
    int fall = kDefaultHealthFall;
    std::string user;      // empty: no login, the greeting is the check
    std::string password;  // sent only with `user`; never logged
    bool operator==(const HealthCheck&) const = default;
};

// FTPS (issue 12), reverse mode only: the worker's --tls-* and --server-tls*
// flags. The worker reads the files at start, as root, before it drops its
// privileges; the loader reads and checks them too (tls_files.hpp).
enum class ClientTls { off, optional, required };
enum class ServerTls { off, automatic, required };
// The words of the file and of the worker's flags, one table for both.
inline constexpr std::array<std::pair<std::string_view, ClientTls>, 3> kClientTlsWords = {
    {{"off", ClientTls::off},
     {"optional", ClientTls::optional},
     {"required", ClientTls::required}}};
// Whether a client's TLS data connection must resume its control
// connection's session (--client-tls-reuse).
enum class ClientReuse { optional, required };
inline constexpr std::array<std::pair<std::string_view, ClientReuse>, 2> kClientReuseWords = {
    {{"optional", ClientReuse::optional}, {"required", ClientReuse::required}}};
inline constexpr std::array<std::pair<std::string_view, ServerTls>, 3> kServerTlsWords = {
    {{"off", ServerTls::off}, {"auto", ServerTls::automatic}, {"required", ServerTls::required}}};
template <typename Enum, std::size_t N>
constexpr std::string_view word_of(const std::array<std::pair<std::string_view, Enum>, N>& words,
                                   Enum value) {
    for (const auto& [word, choice] : words)
        if (choice == value) return word;
    return "?";
}
inline constexpr std::chrono::seconds kDefaultTlsHandshakeTimeout{30};  // --tls-timeout
struct TlsSettings {
    std::string certificate;            // PEM certificate and chain shown to clients; empty: none
    std::string key;                    // PEM private key; the certificate file when not written
    ClientTls client = ClientTls::off;  // optional when a certificate is given
    ClientReuse client_reuse = ClientReuse::optional;
    ServerTls server = ServerTls::off;
    std::string server_ca;           // empty: the system bundle (or the pin)
    std::string server_name;         // empty: the backend the worker starts with
    std::string server_fingerprint;  // SHA-256 pin, 64 lowercase hex digits; empty: none
    std::chrono::seconds handshake_timeout = kDefaultTlsHandshakeTimeout;
    bool implicit = false;            // --tls-implicit: TLS from the first byte (port 990 style)
    std::string min_version = "1.2";  // --tls-min-version, both sides
    std::string ciphers;              // --tls-ciphers (TLS 1.2 list); empty: the worker's default
    // SHA-256 over the bytes of the certificate, key and server_ca files as
    // loaded; empty without TLS. Not a worker flag: diff_configs compares it,
    // so a certificate renewed in place gives the instance a new worker on
    // reload.
    std::string files_sha256;

    // Anything for the worker to do (then every TLS flag is passed).
    bool enabled() const {
        return !certificate.empty() || client != ClientTls::off || server != ServerTls::off;
    }
    bool operator==(const TlsSettings&) const = default;
};

struct Instance {
    std::string name;
    Mode mode = Mode::reverse;
    // Where the worker's socket listens (ftpproxyd binds it, the worker gets
    // it as fd 3) and where the firewall sends the diverted connections.
    common::IpAddress listen_address;
    std::uint16_t listen_port = 0;
    // What clients connect to. No address: any destination (forward mode).
    std::optional<common::IpAddress> public_address;
    std::uint16_t public_port = kFtpPort;
    std::string interface;  // empty: any interface
    // Reverse mode only: in order of preference; new sessions go to the
    // first healthy one.
    std::vector<Backend> backends;
    HealthCheck health_check;
    TlsSettings tls;  // reverse mode only
    std::optional<common::IpAddress> source_address;
    int max_sessions = kDefaultMaxSessions;
    std::chrono::seconds idle_timeout = kDefaultIdleTimeout;
    std::chrono::seconds data_timeout = kDefaultDataTimeout;
    std::chrono::seconds server_timeout = kDefaultServerTimeout;
    std::optional<common::PortRange> passive_ports;  // none: the kernel's ephemeral range
    bool anonymous_only = false;
    bool log_commands = false;
    bool passive_to_server = false;
    Relay relay = kDefaultRelay;
    int relay_pipe_size = kDefaultRelayPipeSize;  // passed only with Relay::splice
    DataPath data_path = DataPath::relay;
    LogLevel log_level = LogLevel::notice;        // instance, else defaults, else global
};

// How ftpproxyd tells the cluster layer (CARP, VRRP) that this node cannot
// serve, so that it gives the shared addresses to a peer that can. See
// docs/carp-failover.md.
enum class Demotion {
    none,          // the cluster layer is not told
    keepalived,    // track_file: "0" fit, "1" not (vrrp_track_file with weight 0: FAULT)
    openbsd_carp,  // ifconfig -g GROUP carpdemote N / -carpdemote N
    freebsd_carp,  // sysctl net.inet.carp.demotion=N / =-N (it adds)
    command,       // demote_command / promote_command (ucarp, anything else)
};
std::string_view to_string(Demotion demotion);

inline constexpr std::string_view kDefaultTrackFile = "/run/ftpproxyd/vrrp-track";
inline constexpr std::string_view kDefaultCarpGroup = "carp";
inline constexpr int kDefaultDemoteBy = 50;
inline constexpr int kMaxDemoteBy = 1000;
inline constexpr std::string_view kIfconfigBinary = "/sbin/ifconfig";
inline constexpr std::string_view kSysctlBinary = "/sbin/sysctl";
inline constexpr std::size_t kMaxHandoffNodes = 8;

struct ClusterSettings {
    Demotion demotion = Demotion::none;
    std::string track_file{kDefaultTrackFile};  // keepalived
    std::string carp_group{kDefaultCarpGroup};  // openbsd_carp
    int demote_by = kDefaultDemoteBy;           // openbsd_carp, freebsd_carp
    std::vector<std::string> demote_command;    // command: argv, no shell
    std::vector<std::string> promote_command;
    // handoff.nodes: every node's own address on the VIPs' link, the same
    // list on each node; empty: no session handoff (Linux only; see
    // supervisor/handoff_plan.hpp and docs/carp-failover.md).
    std::vector<common::IpAddress> handoff_nodes;
    bool operator==(const ClusterSettings&) const = default;
};

struct Config {
    GlobalSettings global;
    std::vector<Instance> instances;
    ClusterSettings cluster;
    // SHA-256 of the file's bytes as loaded, lowercase hex (file_digest.hpp);
    // empty when loaded from text. Every node of a cluster should show the same.
    std::string sha256;
};

}  // namespace config
