#include "firewall/privileged_helper.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <string_view>

#include "firewall/firewall.hpp"
#include "firewall/pf_rules.hpp"
#include "firewall/pfctl_wire.hpp"
#include "firewall/privileged_runner.hpp"

namespace firewall {
namespace {

bool is_digits(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// "ftp-proxy/PID.SESSION"
bool is_session_anchor(std::string_view anchor) {
    constexpr std::string_view parent = pf::kAnchorParent;
    if (!anchor.starts_with(parent) || anchor.substr(parent.size(), 1) != "/") return false;
    anchor.remove_prefix(parent.size() + 1);
    const auto dot = anchor.find('.');
    return dot != std::string_view::npos && is_digits(anchor.substr(0, dot)) &&
           is_digits(anchor.substr(dot + 1));
}

void send_reply(int socket, const wire::Reply& reply) {
    const std::string message = wire::encode(reply);
    if (::send(socket, message.data(), message.size(), MSG_NOSIGNAL) < 0) ::_exit(0);
}

// Collects the runs that ended; at the limit, waits for one first.
void reap(std::size_t& running) {
    while (running > 0) {
        const int flags = running >= kMaxConcurrentPfctl ? 0 : WNOHANG;
        if (::waitpid(-1, nullptr, flags) <= 0) return;
        --running;
    }
}

}  // namespace

bool pfctl_request_allowed(const std::vector<std::string>& argv, const std::string& pfctl) {
    if (argv.size() < 4 || argv[0] != pfctl || argv[1] != "-a") return false;
    if (argv.size() == 4) return argv[2] == pf::kAnchorParent && argv[3] == "-sA";
    if (argv.size() != 5 || !is_session_anchor(argv[2])) return false;
    return (argv[3] == "-f" && argv[4] == "-") || (argv[3] == "-F" && argv[4] == "rules");
}

[[noreturn]] void serve_pfctl_requests(int socket, const std::string& pfctl,
                                       std::chrono::milliseconds timeout) {
    // Ctrl-C on a foreground worker must not kill the helper before the
    // worker has emptied its anchors; the helper ends with the socket.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    std::string buffer(wire::kMaxMessage, '\0');
    std::size_t running = 0;
    for (;;) {
        reap(running);
        const ssize_t n = ::recv(socket, buffer.data(), buffer.size(), 0);
        if (n <= 0) ::_exit(0);
        const auto request = wire::decode_request({buffer.data(), static_cast<std::size_t>(n)});
        if (!request) {
            send_reply(socket, {0, {-1, "refused: malformed request"}});
            continue;
        }
        if (!pfctl_request_allowed(request->argv, pfctl)) {
            send_reply(socket,
                       {request->id, {-1, "refused: not a pfctl request of the pf backend"}});
            continue;
        }
        const pid_t child = ::fork();
        if (child < 0) {
            send_reply(socket, {request->id, {-1, "cannot fork for pfctl"}});
            continue;
        }
        if (child == 0) {
            wire::Reply reply{request->id, {}};
            try {
                reply.result = run_program(request->argv, request->input, timeout);
            } catch (const Error& e) {
                reply.result = {-1, e.what()};
            }
            send_reply(socket, reply);
            ::_exit(0);
        }
        ++running;
    }
}

}  // namespace firewall
