// What a session needs to know, resolved once at start from the Options.
#pragma once

#include <chrono>
#include <optional>

#include "firewall/firewall.hpp"

namespace firewall {
class ConntrackFlows;
}
#include "ftp/dialogue.hpp"
#include "proxy/asio.hpp"
#include "proxy/options.hpp"
#include "proxy/splice_pipe.hpp"
#include "proxy/tls.hpp"

namespace proxy {

// The last replies to a closing session (a 421) get this long to be read;
// then the connection is reset.
inline constexpr std::chrono::seconds kFinalFlushTimeout{10};

// Backpressure on the control connections. A client that does not read its
// replies cannot make the proxy buffer without bound: above this many bytes
// queued toward the client, neither the client's commands nor the server's
// replies are read any more, until the client catches up.
inline constexpr std::size_t kMaxClientBacklog = 64 * 1024;
// Commands whose reply is still due (pipelining). Far above what a real
// client pipelines; beyond it the client's next command is not read until
// a reply has been relayed.
inline constexpr std::size_t kMaxPendingReplies = 64;

struct Settings {
    bool forward = false;      // no -R: each session goes to its original destination
    bool transparent = false;  // --tproxy: IP_TRANSPARENT listener (divert-to model)
    // --handoff: the sockets on the client's side are IP_TRANSPARENT, so a
    // session goes on after the VIP it is addressed to has left this node.
    bool handoff = false;
    tcp::endpoint listen;  // our own listen endpoint, to refuse loops
    // Forward mode: per-session data expectations; nullptr = none (the
    // proxy then announces its own address in 227 replies).
    firewall::Backend* firewall = nullptr;
    // --data-path kernel: the firewall (above) translates each data
    // connection and these follow them in conntrack; null: the worker relays.
    firewall::ConntrackFlows* kernel_flows = nullptr;
    tcp::endpoint server;                             // reverse mode: the fixed backend
    std::optional<asio::ip::address> source_address;  // -a
    bool anonymous_only = false;
    bool verbose = false;
    bool passive_to_server = false;
    bool data_from_port_20 = false;
    std::chrono::seconds idle_timeout = kDefaultIdleTimeout;
    std::chrono::seconds data_timeout = kDefaultDataTimeout;
    std::chrono::seconds server_timeout = kDefaultServerTimeout;  // connect, then greeting
    PortRange passive_ports;
    RelayConfig relay;
    // Explicit FTPS toward clients: the context (null without --tls-cert),
    // the policy, and the bound on each handshake.
    std::shared_ptr<ssl::context> client_tls_context;
    ftp::ClientTls client_tls = ftp::ClientTls::Off;
    std::chrono::seconds tls_timeout = kDefaultTlsTimeout;
    bool implicit_tls = false;  // --tls-implicit: TLS from the first byte
    // --client-tls-reuse required: a client's TLS data connection must
    // resume its control connection's session (tls_binding.hpp).
    bool client_tls_reuse_required = false;
    // TLS toward the server (--server-tls): the policy, and how its
    // certificate is checked (the context is null when off).
    ftp::ServerTls server_tls = ftp::ServerTls::Off;
    ServerTlsPolicy server_tls_policy;
};

}  // namespace proxy
