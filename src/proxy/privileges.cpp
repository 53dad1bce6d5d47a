#include "proxy/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace proxy {
namespace {

// ASan/UBSan builds are test builds: their leak check at exit needs /proc,
// which a chroot hides, and would turn every clean exit into a failure.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

std::string os_error(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// glibc has no capset wrapper; libcap would be a dependency for one call.
void keep_only(KeptCapabilities keep) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    std::uint32_t mask = 0;
    if (keep.bind_service) mask |= 1u << CAP_NET_BIND_SERVICE;
    if (keep.net_admin) mask |= 1u << CAP_NET_ADMIN;
    if (keep.net_raw) mask |= 1u << CAP_NET_RAW;
    data[0].effective = data[0].permitted = mask;
    if (syscall(SYS_capset, &header, data) != 0)
        throw std::runtime_error(os_error("cannot keep the capabilities the worker needs"));
}

}  // namespace

void drop_privileges(const std::string& user, const std::string& chroot_dir,
                     KeptCapabilities keep) {
    const bool keep_any = keep.bind_service || keep.net_admin || keep.net_raw;
    if (geteuid() != 0) return;
    errno = 0;
    const passwd* entry = getpwnam(user.c_str());
    if (!entry)
        throw std::runtime_error("user \"" + user +
                                 "\" does not exist; create it with `useradd --system "
                                 "--no-create-home --shell /usr/sbin/nologin " +
                                 user + "` or choose another with --user");
    const uid_t uid = entry->pw_uid;
    const gid_t gid = entry->pw_gid;
    if (uid == 0)
        throw std::runtime_error("--user " + user + " is root; choose an unprivileged user");

    struct stat info {};
    if (kSanitizerBuild && !chroot_dir.empty()) {
        spdlog::info("not chrooting: sanitizer build (LeakSanitizer reads /proc at exit)");
    } else if (!chroot_dir.empty() && stat(chroot_dir.c_str(), &info) == 0 &&
               S_ISDIR(info.st_mode)) {
        if (chroot(chroot_dir.c_str()) != 0 || chdir("/") != 0)
            throw std::runtime_error(os_error("cannot chroot to " + chroot_dir));
        spdlog::trace("chrooted to {}", chroot_dir);
    } else if (!chroot_dir.empty()) {
        spdlog::info("not chrooting: {} is not a directory", chroot_dir);
    }
    if (keep_any && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        throw std::runtime_error(os_error("prctl(PR_SET_KEEPCAPS)"));
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        throw std::runtime_error(os_error("cannot switch to user " + user));
    if (keep_any) keep_only(keep);
    spdlog::trace("running as {} (uid {}, gid {})", user, uid, gid);
}

}  // namespace proxy
