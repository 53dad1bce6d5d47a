// TLS for a session's legs (FTPS, issue 12): the worker's server context
// toward clients and its client context toward the FTP server, each made
// once at start from files (before the worker drops root), the checks of
// the server's certificate, and the stream type each TLS leg uses (TlsSocket, tls_socket.hpp). A
// TLS leg wraps the session's or the data channel's own tcp::socket by reference, so the socket
// stays the owner: resets, shutdowns and closes work on it exactly as on a clear-text leg.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "proxy/asio.hpp"
#include "proxy/tls_socket.hpp"

namespace proxy {

namespace ssl = asio::ssl;
using TlsStream = TlsSocket;

// A TLS leg that ends cleanly sends close_notify; a peer that never answers
// it does not hold the socket longer than this.
inline constexpr std::chrono::seconds kTlsShutdownTimeout{5};

// A certificate or key that cannot be used. what() is one line naming the
// flag and the file.
class TlsSetupError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What both contexts share (--tls-min-version, --tls-ciphers): the oldest
// protocol version (1.2 or 1.3) and the OpenSSL cipher list for TLS 1.2
// (empty: forward-secret AEAD ciphers only; TLS 1.3's suites are all such).
struct TlsTuning {
    int min_version = 0x0303;  // TLS1_2_VERSION
    std::string ciphers;
};

// No renegotiation, server-side session cache for data connections that
// resume the control connection's session. cert_file: PEM, the certificate
// first, then its chain; key_file: PEM private key.
std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file,
                                                      const TlsTuning& tuning = {});

// How the FTP server's certificate is checked (--server-tls-*): against the
// CA file (default: the system's bundle) and `name` (a DNS name, also sent
// as SNI, or an IP address), or only against a pinned SHA-256 fingerprint
// of the certificate (a self-signed server's), which replaces both.
struct ServerTlsPolicy {
    std::shared_ptr<ssl::context> context;
    std::string name;
    std::optional<std::array<unsigned char, 32>> pin;
};

// The client context toward servers: the same tuning as toward clients, and the trusted CAs from
// ca_file (or the system bundle when empty), loaded now: a chroot would hide them later. With a pin
// no CA is loaded (pinned: the fingerprint alone decides).
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool pinned,
                                                      const TlsTuning& tuning = {});

// "AB:CD:..." or "abcd..." (64 hex digits, colons ignored) as bytes;
// nullopt if malformed.
std::optional<std::array<unsigned char, 32>> parse_fingerprint(const std::string& text);

// Before the handshake of a leg toward the server: SNI and what the
// certificate must name, or no verification at all under a pin (then
// checked by server_certificate_problem() after the handshake).
void prepare_server_leg(TlsStream& stream, const ServerTlsPolicy& policy);
// After the handshake of a leg toward the server (the worker's control and
// data connections, ftpproxyd's health checks), which ended with `error`:
// empty if the leg may be used, else why not (the handshake's failure, or
// the pin's).
std::string server_leg_problem(TlsStream& stream, const ServerTlsPolicy& policy,
                               const boost::system::error_code& error);

// "TLSv1.3 TLS_AES_256_GCM_SHA384", for log lines.
std::string describe_tls(TlsStream& stream);

// close_notify toward the peer, bounded by kTlsShutdownTimeout (after which
// the socket is shut down both ways). Errors are the peer's business: it may close
// without answering.
awaitable<void> tls_shutdown(TlsStream& stream);

}  // namespace proxy
