// TLS for the client's side of a session (explicit FTPS, issue 12): the
// worker's server context, made once at start from the certificate and key
// files (before the worker drops root), and the stream type each TLS leg
// uses. A TLS leg wraps the session's or the data channel's own tcp::socket
// by reference, so the socket stays the owner: resets, shutdowns and
// closes work on it exactly as on a clear-text leg.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "proxy/asio.hpp"

// clang-format off
#include <boost/asio/ssl.hpp>
// clang-format on

namespace proxy {

namespace ssl = asio::ssl;
using TlsStream = ssl::stream<tcp::socket&>;

// A TLS leg that ends cleanly sends close_notify; a peer that never answers
// it does not hold the socket longer than this.
inline constexpr std::chrono::seconds kTlsShutdownTimeout{5};

// A certificate or key that cannot be used. what() is one line naming the
// flag and the file.
class TlsSetupError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// TLS 1.2 at least, forward-secret AEAD ciphers for 1.2 (1.3's are all
// such), no renegotiation, server-side session cache for data connections
// that resume the control connection's session. cert_file: PEM, the
// certificate first, then its chain; key_file: PEM private key.
std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file);

// "TLSv1.3 TLS_AES_256_GCM_SHA384", for log lines.
std::string describe_tls(TlsStream& stream);

// close_notify toward the peer, bounded by kTlsShutdownTimeout (after which
// the socket is shut down both ways). Errors are the peer's business: it may close
// without answering.
awaitable<void> tls_shutdown(TlsStream& stream);

}  // namespace proxy
