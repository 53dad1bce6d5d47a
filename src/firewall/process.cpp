#include "firewall/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "common/spawn.hpp"
#include "common/unique_fd.hpp"
#include "firewall/firewall.hpp"

namespace firewall {
namespace {

std::string describe_timeout(std::chrono::milliseconds timeout) {
    if (timeout.count() % 1000 == 0) return std::to_string(timeout.count() / 1000) + " s";
    return std::to_string(timeout.count()) + " ms";
}

std::string os_error(const std::string& what, int error) {
    return what + ": " + std::strerror(error);
}

// stdin is a socket, not a pipe, so that writing to a program that exited
// early gives EPIPE (MSG_NOSIGNAL) instead of a SIGPIPE that kills the worker.
void send_all(int fd, const std::string& input) {
    std::size_t done = 0;
    while (done < input.size()) {
        const ssize_t n = ::send(fd, input.data() + done, input.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the program stopped reading; its exit code tells why
        done += static_cast<std::size_t>(n);
    }
}

// Reads until the program closes its output or `deadline` passes; false
// when the deadline passed first.
bool read_all(int fd, std::string& text, std::chrono::steady_clock::time_point deadline) {
    char buffer[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd ready{fd, POLLIN, 0};
        const int polled = ::poll(&ready, 1, static_cast<int>(left.count()));
        if (polled < 0 && errno != EINTR) return true;  // cannot wait: take what came
        if (polled <= 0) continue;
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return true;
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

std::string comm_of(const std::string& pid) {
    std::ifstream file("/proc/" + pid + "/comm");
    std::string name;
    std::getline(file, name);
    return name;
}

}  // namespace

// The input is a few rules (far below a socket buffer), so writing it all
// before reading the output cannot deadlock.
ProgramResult run_program(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int in[2];
    int out[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
        throw Error(os_error("socketpair", errno));
    common::UniqueFd in_ours(in[0]), in_theirs(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) throw Error(os_error("pipe", errno));
    common::UniqueFd out_ours(out[0]), out_theirs(out[1]);

    const common::SpawnResult spawned =
        common::spawn_process(argv, {{in_theirs.get(), STDIN_FILENO},
                                     {out_theirs.get(), STDOUT_FILENO},
                                     {out_theirs.get(), STDERR_FILENO}});
    if (spawned.pid < 0) throw Error(spawned.error);  // "cannot run /sbin/pfctl: ..."
    const pid_t pid = spawned.pid;
    in_theirs.reset();
    out_theirs.reset();

    send_all(in_ours.get(), input);
    ::shutdown(in_ours.get(), SHUT_WR);
    ProgramResult result;
    if (!read_all(out_ours.get(), result.output, deadline)) {
        // A hung program would hold its caller (a session's firewall step)
        // forever; killed, it answers like one that failed.
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        result.output = argv[0] + " did not finish within " + describe_timeout(timeout) +
                        " and was killed" + (result.output.empty() ? "" : ": " + result.output);
        return result;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
}

bool process_is_gone(pid_t pid) {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const std::string ours = comm_of("self");
    const std::string theirs = comm_of(std::to_string(pid));
    return !ours.empty() && !theirs.empty() && ours != theirs;
}

}  // namespace firewall
