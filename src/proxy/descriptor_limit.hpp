// RLIMIT_NOFILE against -m: a worker asks at start for the descriptors its
// sessions can hold at once, so that max_sessions is not silently capped by
// the service manager's default (systemd: 1024, OpenBSD's daemon class: 128).
#pragma once

#include <sys/resource.h>

namespace proxy {

// The most one session holds at once: the client's and the server's control
// connections, a data listener, the two data connections, and two splice
// pipes of two ends each (both directions of a data connection relaying).
inline constexpr rlim_t kDescriptorsPerSession = 9;
// The rest of the worker: the listener, the control socketpair, syslog, the
// firewall's and conntrack's netlink sockets, TLS files at a reload.
inline constexpr rlim_t kDescriptorsBeyondSessions = 64;

rlim_t descriptors_needed(int max_sessions);

// The limit to set for `needed` descriptors, from `current`: the soft limit
// up to needed, within the hard one. The hard limit is the administrator's
// ceiling (LimitNOFILE=, prlimit, the login class): never raised, even by
// root. Unchanged when the soft limit is enough already.
rlimit plan_descriptor_limit(rlimit current, rlim_t needed);

// Sessions that fit in a soft limit of `limit` descriptors.
long long sessions_within(rlim_t limit);

// Sets the planned limit and logs it; a limit that stays below what -m
// needs is a warning naming how many sessions fit and what to raise.
void raise_descriptor_limit(int max_sessions);

}  // namespace proxy
