// Giving up root after the listening socket is bound.
#pragma once

#include <string>

namespace proxy {

// The only capabilities a worker may keep after switching user.
struct KeptCapabilities {
    bool bind_service = false;  // -r: data connections from port 20
    bool net_admin = false;     // forward mode with nftables: per-session rules
    bool net_raw = false;       // --handoff: IP_TRANSPARENT data sockets
};

// When running as root: chroot into chroot_dir if it exists, then switch to
// user (and its group), keeping only the capabilities asked for. Throws
// std::runtime_error with a message that says what to do. Does nothing when
// not root.
void drop_privileges(const std::string& user, const std::string& chroot_dir, KeptCapabilities keep);

}  // namespace proxy
