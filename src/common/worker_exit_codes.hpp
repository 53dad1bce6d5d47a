// ftp-proxy's exit codes, sysexits.h values as OpenBSD's tools use them, and
// what each means: the worker exits with them, and ftpproxyd explains a
// worker's exit with the same table (status, LAST-EXIT). One code per cause,
// so that the explanation is never a guess. docs/ftp-proxy.md lists them.
#pragma once

#include <array>
#include <string_view>

namespace common {

inline constexpr int kWorkerExitUsage = 64;        // EX_USAGE
inline constexpr int kWorkerExitNoHost = 68;       // EX_NOHOST
inline constexpr int kWorkerExitUnavailable = 69;  // EX_UNAVAILABLE
inline constexpr int kWorkerExitOsError = 71;      // EX_OSERR

struct WorkerExitCode {
    int code;
    std::string_view meaning;
};

inline constexpr std::array kWorkerExitCodes{
    WorkerExitCode{kWorkerExitUsage, "usage error"},
    // -R names a host that does not resolve.
    WorkerExitCode{kWorkerExitNoHost, "backend name unresolvable"},
    // --firewall: the backend cannot work here (no pfctl, no nftables
    // support, its table cannot be made).
    WorkerExitCode{kWorkerExitUnavailable, "firewall unavailable"},
    WorkerExitCode{kWorkerExitOsError, "cannot listen or drop privileges"},
};

// The meaning of a worker's exit code; empty for a code it does not use.
constexpr std::string_view worker_exit_meaning(int code) {
    for (const WorkerExitCode& entry : kWorkerExitCodes) {
        if (entry.code == code) return entry.meaning;
    }
    return {};
}

}  // namespace common
