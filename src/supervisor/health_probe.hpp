// One health check of one backend, as a client would see it: resolve,
// connect (from the instance's source address, as the worker does), read
// the greeting, TLS as the worker's --server-tls does it, optionally log in,
// QUIT. Bounded by the check's timeout as a whole; never throws.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "proxy/tls.hpp"
#include "supervisor/asio.hpp"

namespace supervisor {

// TLS toward the backend ('tls.server' auto or required): after the
// greeting, AUTH TLS, the handshake and the worker's own certificate checks,
// then the login inside TLS. So a check logs in where the worker can (a
// server that demands TLS before USER), sends no password in clear text to
// a server the worker speaks TLS to, and finds a certificate the worker
// would refuse.
struct ProbeTls {
    bool required = false;          // false (auto): a refused AUTH TLS goes on in clear text
    proxy::ServerTlsPolicy policy;  // name empty: each backend's host as written
};

// nullopt when 'tls.server' is off. Throws proxy::TlsSetupError (a CA file
// that cannot be used: `check` refuses it first).
std::optional<ProbeTls> probe_tls_for(const config::TlsSettings& tls);

struct ProbeResult {
    bool ok = false;
    // "220 after 3 ms", "connect 198.19.0.1:21: Connection refused",
    // "greeting: 421 Too many users", "no answer within 2000 ms".
    std::string detail;
    // The address that was checked (a host name resolved): where the
    // worker's new sessions go while this backend is the chosen one.
    std::optional<asio::ip::tcp::endpoint> endpoint;
    // Said of a check that could not use the instance's source address.
    std::string note;
};

awaitable<ProbeResult> probe_backend(config::Backend backend,
                                     std::optional<common::IpAddress> source,
                                     config::HealthCheck check,
                                     std::shared_ptr<const ProbeTls> tls = nullptr);

}  // namespace supervisor
