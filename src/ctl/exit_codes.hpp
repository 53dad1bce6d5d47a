// ftpproxyctl's exit codes, for scripts (the LSB status convention).
#pragma once

namespace ctl {

inline constexpr int kExitOk = 0;           // done; for status: every instance RUNNING
inline constexpr int kExitFailed = 1;       // ftpproxyd refused or a check found errors
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitNotRunning =
    3;  // status: some instance is not RUNNING, or the node is not fit
inline constexpr int kExitUnreachable = 4;  // no ftpproxyd answers (or no permission)

}  // namespace ctl
