// The privileged pfctl helper: which requests it runs, and that a worker
// that has dropped root still gets its pfctl calls done through it.
#include "firewall/privileged_runner.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace firewall {
namespace {

namespace fs = std::filesystem;
const std::string kPfctl = "/sbin/pfctl";

TEST(PfctlRequests, OnlyThePfBackendsThreeShapes) {
    EXPECT_TRUE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy", "-sA"}, kPfctl));
    EXPECT_TRUE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy/4242.7", "-f", "-"}, kPfctl));
    EXPECT_TRUE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy/4242.7", "-F", "rules"}, kPfctl));
}

TEST(PfctlRequests, EverythingElseIsRefused) {
    EXPECT_FALSE(pfctl_request_allowed({"/bin/sh", "-a", "ftp-proxy", "-sA"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-f", "/etc/pf.conf"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy/4242.7", "-F", "all"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-a", "other/4242.7", "-f", "-"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy/x.7", "-f", "-"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy/4242.", "-f", "-"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-a", "ftp-proxy", "-sA", "-x"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({kPfctl, "-d"}, kPfctl));
    EXPECT_FALSE(pfctl_request_allowed({}, kPfctl));
}

// Records argv, stdin and the uid it ran as.
constexpr const char* kStandIn = R"sh(#!/bin/sh
dir=$(dirname "$0")
{ printf 'uid %s argv:' "$(id -u)"; for a in "$@"; do printf ' %s' "$a"; done; printf '\n'; } >> "$dir/calls.log"
case " $* " in *" -f - "*) cat >> "$dir/calls.log" ;; esac
echo "pfctl says hi"
exit 3
)sh";

TEST(PrivilegedRunner, RunsPfctlAsRootForAWorkerThatDroppedRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (it switches a child to nobody)";
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    char pattern[] = "/tmp/ftpx-privsep-XXXXXX";
    ASSERT_NE(nullptr, ::mkdtemp(pattern));
    const fs::path dir = pattern;
    std::ofstream(dir / "pfctl") << kStandIn;
    fs::permissions(dir / "pfctl", fs::perms::owner_all);
    const std::string pfctl = (dir / "pfctl").string();

    boost::asio::io_context io;
    auto runner = start_privileged_runner(pfctl, io);
    // The "worker": gives up root, then asks for one allowed and one refused
    // request; the exit status says which expectations held.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) ::_exit(10);
        auto ok = runner->run_now({pfctl, "-a", "ftp-proxy/4242.7", "-f", "-"}, "pass in all\n");
        if (ok.exit_code != 3 || ok.output != "pfctl says hi\n") ::_exit(11);
        auto refused = runner->run_now({"/bin/sh", "-c", "id"}, "");
        if (refused.exit_code != -1 || refused.output.find("refused") != 0) ::_exit(12);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    std::ifstream log(dir / "calls.log");
    std::ostringstream text;
    text << log.rdbuf();
    EXPECT_EQ(text.str(), "uid 0 argv: -a ftp-proxy/4242.7 -f -\npass in all\n");
    runner = nullptr;  // closes the socket: the helper exits
    fs::remove_all(dir);
}

// Anchor 1 blocks until the file `release` exists (at most 20 s); the rest
// answer at once.
constexpr const char* kSlowStandIn = R"sh(#!/bin/sh
dir=$(dirname "$0")
if [ "$2" = ftp-proxy/4242.1 ]; then
    i=0
    while [ ! -e "$dir/release" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
fi
echo "done $2"
)sh";

// While one pfctl run hangs, the others are answered: a session's slow
// rule change does not hold back the worker's other sessions. No clock in
// the assertions: anchor 1 is released only after anchor 2 was answered.
TEST(PrivilegedRunner, ASlowRunDoesNotHoldBackTheOthers) {
    char pattern[] = "/tmp/ftpx-privsep-XXXXXX";
    ASSERT_NE(nullptr, ::mkdtemp(pattern));
    const fs::path dir = pattern;
    std::ofstream(dir / "pfctl") << kSlowStandIn;
    fs::permissions(dir / "pfctl", fs::perms::owner_all);
    const std::string pfctl = (dir / "pfctl").string();
    boost::asio::io_context io;
    auto runner = start_privileged_runner(pfctl, io);
    std::vector<std::string> answered;
    auto record = [&answered](ProgramResult result) { answered.push_back(result.output); };
    runner->run({pfctl, "-a", "ftp-proxy/4242.1", "-F", "rules"}, "", record);
    runner->run({pfctl, "-a", "ftp-proxy/4242.2", "-F", "rules"}, "", record);
    runner->run({"/bin/sh", "-c", "id"}, "", record);  // refused, answered too
    while (answered.size() < 2 && io.run_one() > 0) {
    }
    ASSERT_EQ(answered.size(), 2u);
    EXPECT_EQ(answered[0].rfind("done ftp-proxy/4242.2", 0) == 0 ? answered[1] : answered[0],
              "refused: not a pfctl request of the pf backend");
    EXPECT_TRUE(answered[0] == "done ftp-proxy/4242.2\n" ||
                answered[1] == "done ftp-proxy/4242.2\n");
    std::ofstream(dir / "release") << "";
    io.run();  // returns once nothing is due: the runner reads only then
    ASSERT_EQ(answered.size(), 3u);
    EXPECT_EQ(answered[2], "done ftp-proxy/4242.1\n");
    runner = nullptr;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace firewall
