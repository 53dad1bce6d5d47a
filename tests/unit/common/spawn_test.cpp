// Starting a program: fork/exec with exact descriptors, its own session, an
// exec failure as an error; wait statuses in words.
#include "common/spawn.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "wait_for.hpp"

namespace {

using namespace common;
using test_support::wait_for;

std::string read_all(int fd) {
    std::string text;
    char buffer[512];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, n);
    return text;
}

TEST(SpawnProcess, ChildGetsExactlyTheMappedDescriptors) {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    UniqueFd read_end(out[0]), write_end(out[1]);
    // Not close-on-exec: must be closed all the same.
    UniqueFd leaked(open("/dev/null", O_RDONLY));
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd socket_ours(pair[0]), socket_theirs(pair[1]);

    const SpawnResult spawned =
        spawn_process({"/bin/sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/3"},
                      {{write_end.get(), 1}, {socket_theirs.get(), 3}});
    ASSERT_GT(spawned.pid, 0) << spawned.error;
    write_end.reset();
    const std::string output = read_all(read_end.get());
    EXPECT_EQ(WEXITSTATUS(wait_for(spawned.pid)), 0);
    std::istringstream lines(output);
    std::vector<std::string> fds;
    std::string line;
    while (std::getline(lines, line) && line.rfind("socket:", 0) != 0) fds.push_back(line);
    // 0 and 2 inherited, 1 and 3 mapped, and ls's own directory descriptor.
    ASSERT_GE(fds.size(), 4u) << output;
    EXPECT_EQ(std::vector<std::string>(fds.begin(), fds.begin() + 4),
              (std::vector<std::string>{"0", "1", "2", "3"}))
        << output;
    EXPECT_LE(fds.size(), 5u) << "a descriptor leaked into the child:\n" << output;
    EXPECT_NE(output.find("socket:["), std::string::npos) << output;
}

TEST(SpawnProcess, AMissingProgramIsAnErrorNotAnExitStatus) {
    const SpawnResult spawned = spawn_process({"/nonexistent/ftp-proxy", "-d"}, {});
    EXPECT_EQ(spawned.pid, -1);
    EXPECT_EQ(spawned.error, "cannot run /nonexistent/ftp-proxy: No such file or directory");
}

TEST(SpawnProcess, ChildRunsInItsOwnSession) {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    UniqueFd read_end(out[0]), write_end(out[1]);
    const SpawnResult spawned = spawn_process(
        {"/bin/sh", "-c", "set -- $(cat /proc/$$/stat); echo $6"},  // field 6: session
        {{write_end.get(), 1}});
    ASSERT_GT(spawned.pid, 0);
    write_end.reset();
    const std::string output = read_all(read_end.get());
    wait_for(spawned.pid);
    EXPECT_EQ(std::stoi(output), spawned.pid);
}

TEST(WaitStatus, InWords) {
    const SpawnResult exit3 = spawn_process({"/bin/sh", "-c", "exit 3"}, {});
    EXPECT_EQ(describe_wait_status(wait_for(exit3.pid)), "exit 3");
    const SpawnResult killed = spawn_process({"/bin/sh", "-c", "kill -9 $$"}, {});
    EXPECT_EQ(describe_wait_status(wait_for(killed.pid)), "killed by SIGKILL");
}

}  // namespace
