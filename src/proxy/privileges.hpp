// Giving up root after the listening socket is bound.
#pragma once

#include <string>

namespace proxy {

// When running as root: chroot into chroot_dir if it exists, then switch to
// user (and its group). keep_bind_service keeps CAP_NET_BIND_SERVICE (for
// -r, data connections from port 20). Throws std::runtime_error with a
// message that says what to do. Does nothing when not root.
void drop_privileges(const std::string& user, const std::string& chroot_dir,
                     bool keep_bind_service);

}  // namespace proxy
