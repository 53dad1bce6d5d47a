#include "supervisor/listen_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "supervisor/nonlocal_bind.hpp"

namespace supervisor {

ListenResult open_listen_socket(const common::IpAddress& address, std::uint16_t port) {
    const auto failed = [&](const std::string& why) {
        return ListenResult{
            common::UniqueFd{},
            "cannot listen on " + common::format_endpoint(address, port) + ": " + why};
    };
    const auto fail = [&](const char* what) {
        return failed(std::string(what) + ": " + std::strerror(errno));
    };
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (address.is_v4()) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        const auto bytes = address.to_v4().to_bytes();
        std::memcpy(&in->sin_addr, bytes.data(), bytes.size());
        length = sizeof *in;
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        const auto bytes = address.to_v6().to_bytes();
        std::memcpy(&in6->sin6_addr, bytes.data(), bytes.size());
        length = sizeof *in6;
    }
    common::UniqueFd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail("socket");
    const int on = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
        return fail("SO_REUSEADDR");
    if (address.is_v6() && setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
        return fail("IPV6_V6ONLY");
    // Always: a CARP/VRRP backup node listens on the VIP before it holds it.
    const NonlocalBind nonlocal = allow_nonlocal_bind(fd.get(), address.is_v6());
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
        if (errno != EADDRNOTAVAIL) return fail("bind");
        return failed(explain_nonlocal_failure(nonlocal, address.is_v6(), errno));
    }
    if (listen(fd.get(), kListenBacklog) != 0) return fail("listen");
    return ListenResult{std::move(fd), {}};
}

Listeners::Socket Listeners::acquire(const common::IpAddress& address, std::uint16_t port,
                                     std::string& error) {
    const std::string key = common::format_endpoint(address, port);
    if (auto it = open_.find(key); it != open_.end()) {
        if (auto socket = it->second.lock()) return socket;
    }
    ListenResult result = open_listen_socket(address, port);
    if (!result.fd) {
        error = std::move(result.error);
        return nullptr;
    }
    auto socket = std::make_shared<const common::UniqueFd>(std::move(result.fd));
    open_[key] = socket;
    std::erase_if(open_, [](const auto& entry) { return entry.second.expired(); });
    return socket;
}

std::vector<Listeners::Socket> Listeners::hold_all() const {
    std::vector<Socket> held;
    for (const auto& [key, weak] : open_)
        if (auto socket = weak.lock()) held.push_back(std::move(socket));
    return held;
}

}  // namespace supervisor
