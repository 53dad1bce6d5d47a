// Command-line options of the ftp-proxy worker: the flags of OpenBSD's
// ftp-proxy(8) plus long options for what is new. All defaults live here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/net_address.hpp"

namespace proxy {

inline constexpr std::uint16_t kDefaultListenPort = 8021;
inline constexpr std::uint16_t kDefaultServerPort = 21;
inline constexpr int kDefaultMaxSessions = 100;
// The reference caps at 500; our limit is the descriptor budget: each session
// holds two control and up to four data descriptors of the 20 000 a process
// may open on the target machines.
inline constexpr int kMaxMaxSessions = 20000;
inline constexpr std::chrono::seconds kDefaultIdleTimeout{86400};
inline constexpr std::chrono::seconds kDefaultDataTimeout{30};
// Connecting to the server, then waiting for its greeting: each bounded by
// this (a backend that drops SYNs, or accepts and never greets, must not
// hold a client for the kernel's minutes or the idle timeout's day).
inline constexpr std::chrono::seconds kDefaultServerTimeout{30};
inline constexpr int kDefaultLogLevel = 5;  // LOG_NOTICE, as OpenBSD
inline constexpr const char* kDefaultUser = "_ftp_proxy";
inline constexpr const char* kDefaultChroot = "/var/empty";
inline constexpr std::uint32_t kDefaultKernelMark = 0x00465450;

// Capacity asked for each relay pipe (--relay-pipe-size). Measured on
// loopback (docs/performance.md): throughput is flat from 64 KiB to 1 MiB and
// CPU per GiB falls with size; 256 KiB leaves room for about 256 busy
// directions in the default per-user pipe budget (fs.pipe-user-pages-soft,
// 64 MiB), 1 MiB only for 64.
inline constexpr std::size_t kDefaultRelayPipeSize = 256 * 1024;
inline constexpr std::size_t kMinRelayPipeSize = 4096;
inline constexpr std::size_t kMaxRelayPipeSize = 64 * 1024 * 1024;
// From AUTH TLS's 234 to the end of the client's handshake (control and
// data connections alike): a client that asks and never shakes hands is
// closed after this.
inline constexpr std::chrono::seconds kDefaultTlsTimeout{30};

// {0, 0}, the default: the kernel chooses the data listeners' ports.
using PortRange = common::PortRange;

struct Options {
    bool ipv6_defaults = false;                               // -6
    bool anonymous_only = false;                              // -A
    std::optional<std::string> source_address;                // -a
    std::string listen_address;                               // -b
    int log_level = kDefaultLogLevel;                         // -D
    bool debug = false;                                       // -d
    int max_sessions = kDefaultMaxSessions;                   // -m
    std::uint16_t server_port = kDefaultServerPort;           // -P
    std::uint16_t listen_port = kDefaultListenPort;           // -p
    std::optional<std::string> queue;                         // -q (pf only)
    std::optional<std::string> reverse_host;                  // -R
    bool data_from_port_20 = false;                           // -r
    std::optional<std::string> tag;                           // -T (pf only)
    std::chrono::seconds idle_timeout = kDefaultIdleTimeout;  // -t
    bool verbose = false;                                     // -v

    bool passive_to_server = false;  // --passive-to-server
    std::chrono::seconds data_timeout = kDefaultDataTimeout;
    std::chrono::seconds server_timeout = kDefaultServerTimeout;  // --server-timeout
    PortRange passive_ports;
    std::string user = kDefaultUser;
    std::string chroot_dir = kDefaultChroot;
    std::optional<int> listen_fd;
    std::optional<int> control_fd;  // socketpair from ftpproxyd
    bool foreground = false;
    // Forward mode only: "nftables" (Linux default), "pf", "none".
    std::optional<std::string> firewall;
    bool tproxy = false;  // IP_TRANSPARENT listener (nftables tproxy)
    // --handoff: the client's sockets stay usable after the listen address
    // (a VIP) has moved to the cluster peer (docs/carp-failover.md).
    bool handoff = false;
    // --relay splice (Linux default) | copy (read/write loop; the only one
    // elsewhere).
    bool relay_splice = splice_available();
    std::size_t relay_pipe_size = kDefaultRelayPipeSize;  // --relay-pipe-size
    // --data-path relay (default: the worker relays every data byte) |
    // kernel (the firewall forwards each data connection, the worker follows
    // it in conntrack; reverse mode with nftables for now).
    bool kernel_data_path = false;
    // --kernel-mark: the conntrack mark of those connections, which the
    // operator's filter passes (`ct mark M accept`). "FTP" in ASCII.
    std::uint32_t kernel_mark = kDefaultKernelMark;
    // Explicit FTPS toward clients (reverse mode): --tls-cert, --tls-key
    // (default: the cert file), --client-tls off|optional|required (default:
    // optional with a certificate, else off), --tls-timeout.
    std::optional<std::string> tls_cert, tls_key;
    std::string client_tls = "off";
    std::chrono::seconds tls_timeout = kDefaultTlsTimeout;
    bool tls_implicit = false;  // --tls-implicit: TLS from the first byte (port 990 style)
    // --client-tls-reuse optional|required: whether a client's TLS data
    // connection must resume its control connection's session.
    std::string client_tls_reuse = "optional";
    // TLS toward the server (reverse mode): --server-tls off|auto|required,
    // --server-tls-ca (default: the system bundle), --server-tls-name
    // (default: the -R host as given), --server-tls-fingerprint (a pin that
    // replaces the CA and name checks).
    std::string server_tls = "off";
    // Both sides: --tls-min-version 1.2|1.3, --tls-ciphers (TLS 1.2's list,
    // OpenSSL syntax; empty: forward-secret AEAD only).
    std::string tls_min_version = "1.2";
    std::string tls_ciphers;
    std::optional<std::string> server_tls_ca, server_tls_name, server_tls_fingerprint;

    static constexpr bool splice_available() {
#ifdef __linux__
        return true;
#else
        return false;
#endif
    }
};

// A bad flag or value. what() is one line naming the flag.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Thrown for --help / --version: the text to print, exit 0.
struct InfoRequest {
    std::string text;
};

Options parse_options(const std::vector<std::string>& args);
std::string usage_text();

}  // namespace proxy
