// systemd's readiness protocol (Type=notify), without libsystemd: one
// datagram such as "READY=1" to the unix socket named by $NOTIFY_SOCKET
// (an abstract socket when the name starts with '@').
#pragma once

#include <string>
#include <string_view>

namespace supervisor {

// Returns false when $NOTIFY_SOCKET is unset (not under systemd) or the
// datagram could not be sent; `error` then says why (empty when unset).
bool sd_notify(std::string_view state, std::string* error = nullptr);

}  // namespace supervisor
