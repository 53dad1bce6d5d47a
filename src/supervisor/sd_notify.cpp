#include "supervisor/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.hpp"

namespace supervisor {

bool sd_notify(std::string_view state, std::string* error) {
    const auto fail = [&](std::string why) {
        if (error) *error = std::move(why);
        return false;
    };
    const char* name = std::getenv("NOTIFY_SOCKET");
    if (!name || !*name) return fail({});
    const std::string_view path(name);

    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return fail("NOTIFY_SOCKET is too long");
    if (path[0] != '/' && path[0] != '@') return fail("NOTIFY_SOCKET is not a path or @name");
    std::memcpy(address.sun_path, path.data(), path.size());
    if (path[0] == '@') address.sun_path[0] = '\0';  // abstract: no file, no trailing NUL
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                               (path[0] == '@' ? 0 : 1));

    common::UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    // Never wait: a receiver that does not read (a full queue) must not stop
    // the supervisor. The notification is lost then, and logged by the caller.
    const ssize_t sent = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                                reinterpret_cast<const sockaddr*>(&address), length);
    if (sent != static_cast<ssize_t>(state.size())) {
        return fail("cannot send to " + std::string(path) + ": " + std::strerror(errno));
    }
    return true;
}

}  // namespace supervisor
