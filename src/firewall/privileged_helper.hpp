// The privileged pfctl helper's side (see privileged_runner.hpp): the
// process that keeps root and runs the allowed pfctl requests.
#pragma once

#include <chrono>
#include <string>

namespace firewall {

// The helper's whole life, on `socket` (a SOCK_SEQPACKET end). Each allowed
// request runs in a child of its own, at most kMaxConcurrentPfctl at once,
// which sends the reply itself: a slow pfctl for one anchor does not hold
// the others back; a run longer than `timeout` is killed and answered as
// failed. Exits when the worker's end closes. Never returns.
[[noreturn]] void serve_pfctl_requests(int socket, const std::string& pfctl,
                                       std::chrono::milliseconds timeout);

}  // namespace firewall
