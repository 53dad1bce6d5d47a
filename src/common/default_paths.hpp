// Where ftpproxyd and ftpproxyctl look when not told: one definition for
// both programs and the configuration's defaults (docs/configuration.md).
#pragma once

#include <string_view>

namespace common {

inline constexpr std::string_view kDefaultConfigFile = "/etc/ftpproxy/ftpproxy.yaml";
// /run is Linux's (a tmpfs, emptied at boot); the BSDs keep run-time files in
// /var/run, which their rc emptied at boot too. Creating /run there would
// leave a stale socket directory on the root file system.
#ifdef __linux__
inline constexpr std::string_view kDefaultRuntimeDir = "/run/ftpproxyd";
inline constexpr std::string_view kDefaultControlSocket = "/run/ftpproxyd/control.sock";
#else
inline constexpr std::string_view kDefaultRuntimeDir = "/var/run/ftpproxyd";
inline constexpr std::string_view kDefaultControlSocket = "/var/run/ftpproxyd/control.sock";
#endif

}  // namespace common
