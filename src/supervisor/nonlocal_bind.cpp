#include "supervisor/nonlocal_bind.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace supervisor {

namespace {

struct Option {
    int level;
    int name;
    const char* text;
    bool v4;  // applies to IPv4 sockets
    bool v6;  // applies to IPv6 sockets
};

// In order of preference; the first one the kernel takes wins.
constexpr std::array kOptions = {
#if defined(IPV6_FREEBIND)  // Linux >= 4.15
    Option{IPPROTO_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND", false, true},
#endif
#if defined(IP_FREEBIND)  // Linux: on IPv6 sockets too (the only way before 4.15)
    Option{IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", true, true},
#endif
#if defined(IPV6_BINDANY)  // FreeBSD, root only
    Option{IPPROTO_IPV6, IPV6_BINDANY, "IPV6_BINDANY", false, true},
#endif
#if defined(IP_BINDANY)  // FreeBSD, root only
    Option{IPPROTO_IP, IP_BINDANY, "IP_BINDANY", true, false},
#endif
#if defined(SO_BINDANY)  // OpenBSD, root only
    Option{SOL_SOCKET, SO_BINDANY, "SO_BINDANY", true, true},
#endif
    Option{0, 0, nullptr, false, false},  // the end (and a non-empty array everywhere)
};

// What would let the bind through where the option was refused.
const char* remedy(bool ipv6) {
#if defined(IP_FREEBIND)
    return ipv6 ? "set net.ipv6.ip_nonlocal_bind=1" : "set net.ipv4.ip_nonlocal_bind=1";
#elif defined(IP_BINDANY) || defined(SO_BINDANY)
    (void)ipv6;
    return "ftpproxyd must run as root for it";
#else
    (void)ipv6;
    return "add the address to an interface first";
#endif
}

}  // namespace

NonlocalBind allow_nonlocal_bind(int fd, bool ipv6) {
    NonlocalBind result;
    const int on = 1;
    for (const Option& option : kOptions) {
        if (option.text == nullptr || !(ipv6 ? option.v6 : option.v4)) continue;
        if (setsockopt(fd, option.level, option.name, &on, sizeof on) == 0)
            return NonlocalBind{option.text, 0};
        result = NonlocalBind{option.text, errno};
    }
    return result;
}

std::string explain_nonlocal_failure(const NonlocalBind& attempt, bool ipv6, int bind_errno) {
    const std::string missing = "the address is not on this host";
    if (attempt.option == nullptr) {
        return missing + " and this system cannot listen on an address it does not hold (" +
               remedy(ipv6) + ")";
    }
    if (attempt.refused != 0) {
        return missing + " and " + attempt.option +
               " was refused: " + std::strerror(attempt.refused) + " (" + remedy(ipv6) + ")";
    }
    return missing + ", and bind() refused it although " + attempt.option +
           " was set: " + std::strerror(bind_errno);
}

}  // namespace supervisor
