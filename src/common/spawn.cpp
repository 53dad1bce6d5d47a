#include "common/spawn.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>

#include "common/unique_fd.hpp"

namespace common {

namespace {

// Mapped descriptors are first moved above every child_fd, so that a
// mapping never overwrites a source still to be copied.
constexpr int kScratchFdBase = 64;

// Only async-signal-safe calls between fork and exec.
void close_from(int first) {
#if defined(__linux__)
    if (close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
    const long max = sysconf(_SC_OPEN_MAX);
    for (int fd = first; fd < max; ++fd) close(fd);
#else
    closefrom(first);
#endif
}

[[noreturn]] void child_fail(int report_fd, int error) {
    const ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

[[noreturn]] void run_child(char* const* argv, const std::vector<FdMapping>& fds, int report_fd) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);  // ignored ones survive exec
    setsid();  // terminal signals reach the supervisor, which decides

    int highest_target = 2;
    for (const auto& mapping : fds) highest_target = std::max(highest_target, mapping.child_fd);
    const int report_target = highest_target + 1;
    const int base = std::max(kScratchFdBase, report_target + 1);
    report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, base);
    if (report_fd < 0) _exit(127);
    int scratch[16];  // no allocation between fork and exec
    const std::size_t count = std::min(fds.size(), std::size(scratch));
    for (std::size_t i = 0; i < count; ++i) {
        scratch[i] = fcntl(fds[i].parent_fd, F_DUPFD, base);
        if (scratch[i] < 0) child_fail(report_fd, errno);
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (dup2(scratch[i], fds[i].child_fd) < 0) child_fail(report_fd, errno);  // clears CLOEXEC
    }
    if (dup2(report_fd, report_target) < 0) _exit(127);
    report_fd = report_target;
    fcntl(report_fd, F_SETFD, FD_CLOEXEC);
    close_from(report_target + 1);

    execv(argv[0], argv);
    child_fail(report_fd, errno);
}

}  // namespace

SpawnResult spawn_process(const std::vector<std::string>& argv, const std::vector<FdMapping>& fds) {
    if (argv.empty()) return {-1, "empty command"};
    if (fds.size() > 16) return {-1, "too many descriptors for a child"};
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);

    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return {-1, std::string("pipe: ") + std::strerror(errno)};
    UniqueFd report_read(report[0]);
    UniqueFd report_write(report[1]);

    const pid_t pid = fork();
    if (pid < 0) return {-1, std::string("fork: ") + std::strerror(errno)};
    if (pid == 0) run_child(args.data(), fds, report_write.get());

    report_write.reset();
    int error = 0;
    ssize_t n;
    do {
        n = read(report_read.get(), &error, sizeof error);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof error)) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return {-1, "cannot run " + argv[0] + ": " + std::strerror(error)};
    }
    return {pid, {}};  // EOF: exec succeeded and closed the pipe
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
#if defined(__GLIBC__)
        const char* abbrev = sigabbrev_np(sig);
#else
        const char* abbrev = sig > 0 && sig < NSIG ? sys_signame[sig] : nullptr;  // BSD, lower case
#endif
        std::string text = abbrev ? "killed by SIG" + std::string(abbrev)
                                  : "killed by signal " + std::to_string(sig);
        if (WCOREDUMP(status)) text += " (core dumped)";
        return text;
    }
    return "status " + std::to_string(status);
}

}  // namespace common
