#include "proxy/descriptor_limit.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace proxy {

rlim_t descriptors_needed(int max_sessions) {
    return static_cast<rlim_t>(std::max(max_sessions, 0)) * kDescriptorsPerSession +
           kDescriptorsBeyondSessions;
}

rlimit plan_descriptor_limit(rlimit current, rlim_t needed) {
    if (current.rlim_cur >= needed) return current;  // RLIM_INFINITY included
    return rlimit{std::min(needed, current.rlim_max), current.rlim_max};
}

long long sessions_within(rlim_t limit) {
    if (limit <= kDescriptorsBeyondSessions) return 0;
    return static_cast<long long>((limit - kDescriptorsBeyondSessions) / kDescriptorsPerSession);
}

void raise_descriptor_limit(int max_sessions) {
    rlimit current{};
    if (::getrlimit(RLIMIT_NOFILE, &current) != 0) return;
    const rlim_t needed = descriptors_needed(max_sessions);
    const rlimit wanted = plan_descriptor_limit(current, needed);
    rlimit now = current;
    if (wanted.rlim_cur != current.rlim_cur) {
        if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) {
            now = wanted;
            spdlog::info("descriptor limit raised from {} to {} for -m {}", current.rlim_cur,
                         now.rlim_cur, max_sessions);
        } else {
            spdlog::warn("cannot raise the descriptor limit from {} to {}: {}", current.rlim_cur,
                         wanted.rlim_cur, std::strerror(errno));
        }
    }
    if (now.rlim_cur != RLIM_INFINITY && now.rlim_cur < needed)
        spdlog::warn(
            "-m {} sessions may hold {} descriptors, but the limit (RLIMIT_NOFILE) is {}: "
            "about {} sessions fit before accepts fail with EMFILE; raise it (LimitNOFILE= in "
            "the systemd unit, openfiles in the login class) or lower -m",
            max_sessions, needed, now.rlim_cur, sessions_within(now.rlim_cur));
}

}  // namespace proxy
