// Where ftpproxyd and ftpproxyctl look when not told: one definition for
// both programs and the configuration's defaults (docs/configuration.md).
#pragma once

#include <string_view>

namespace common {

inline constexpr std::string_view kDefaultConfigFile = "/etc/ftpproxy/ftpproxy.yaml";
inline constexpr std::string_view kDefaultRuntimeDir = "/run/ftpproxyd";
inline constexpr std::string_view kDefaultControlSocket = "/run/ftpproxyd/control.sock";

}  // namespace common
