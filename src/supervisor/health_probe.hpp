// One health check of one backend, as a client would see it: resolve,
// connect (from the instance's source address, as the worker does), read
// the greeting, optionally log in, QUIT. Bounded by the check's timeout as
// a whole; never throws.
#pragma once

#include <optional>
#include <string>

#include "config/model.hpp"
#include "supervisor/asio.hpp"

namespace supervisor {

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
                                     config::HealthCheck check);

}  // namespace supervisor
