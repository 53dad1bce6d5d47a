#include "ctl/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/control_protocol.hpp"
#include "common/unique_fd.hpp"

namespace ctl {

namespace {

using Clock = std::chrono::steady_clock;

// Waits until fd is ready for `events` or the deadline passes.
void wait_ready(int fd, short events, Clock::time_point deadline, const std::string& path) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            throw Unreachable("ftpproxyd did not answer on " + path +
                              " in time; it may be busy or hung (see its log)");
        }
        pollfd entry{fd, events, 0};
        const int ready = poll(&entry, 1, static_cast<int>(left.count()));
        if (ready > 0) return;
        if (ready < 0 && errno != EINTR) {
            throw Unreachable("poll on " + path + ": " + std::strerror(errno));
        }
    }
}

}  // namespace

std::string describe_connect_error(const std::string& path, int error) {
    switch (error) {
        case ENOENT:
            return "ftpproxyd is not running: there is no control socket " + path +
                   ". Start it (systemctl start ftpproxyd, or rcctl start ftpproxyd), or name "
                   "its socket with -s PATH or its configuration with -f FILE.";
        case ECONNREFUSED:
            return "ftpproxyd is not running: nothing answers on " + path +
                   " (left over from a stopped ftpproxyd). Start it again.";
        case EACCES:
        case EPERM:
            return "permission denied on " + path +
                   ": only root, or members of the group set as global.control_group in "
                   "ftpproxy.yaml, may control ftpproxyd. Try again with sudo.";
        case ENOTSOCK:
            return path + " is not a socket; is -s right?";
        default:
            return "cannot connect to ftpproxyd at " + path + ": " + std::strerror(error);
    }
}

nlohmann::json request(const std::string& socket_path, const nlohmann::json& message,
                       std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof address.sun_path) {
        throw Unreachable("control socket path too long: " + socket_path);
    }
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    common::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw Unreachable(std::string("socket: ") + std::strerror(errno));
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw Unreachable(describe_connect_error(socket_path, errno));
    }

    const std::string line = common::control::encode_line(message);
    std::size_t sent = 0;
    while (sent < line.size()) {
        wait_ready(fd.get(), POLLOUT, deadline, socket_path);
        const ssize_t n = send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw Unreachable("lost ftpproxyd while sending: " + std::string(std::strerror(errno)));
        sent += static_cast<std::size_t>(n);
    }

    std::string answer;
    char chunk[8192];
    while (answer.find('\n') == std::string::npos) {
        if (answer.size() > common::control::kMaxLine) {
            throw Unreachable("ftpproxyd's answer is longer than the protocol allows");
        }
        wait_ready(fd.get(), POLLIN, deadline, socket_path);
        const ssize_t n = recv(fd.get(), chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            throw Unreachable(
                "ftpproxyd closed the connection without answering (is it "
                "shutting down?)");
        }
        answer.append(chunk, static_cast<std::size_t>(n));
    }
    auto json = common::control::decode_line(std::string_view(answer).substr(0, answer.find('\n')));
    if (!json) throw Unreachable("ftpproxyd answered something that is not JSON");
    return std::move(*json);
}

}  // namespace ctl
