// The privileged pfctl helper: which requests it runs, and that a worker
// that has dropped root still gets its pfctl calls done through it.
#include "firewall/privileged_runner.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

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
constexpr const char* kPfctlStandIn = R"sh(#!/bin/sh
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
    std::ofstream(dir / "pfctl") << kPfctlStandIn;
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

// A pfctl stand-in in a directory of its own, removed at the end.
struct StandInDir {
    explicit StandInDir(const char* script) {
        char pattern[] = "/tmp/ftpx-privsep-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp");
        dir = pattern;
        std::ofstream(dir / "pfctl") << script;
        fs::permissions(dir / "pfctl", fs::perms::owner_all);
        pfctl = (dir / "pfctl").string();
    }
    ~StandInDir() { fs::remove_all(dir); }
    fs::path dir;
    std::string pfctl;
};

// The helper is this process's child whose parent is us and whose command
// is ours (a fork without exec): the newest such child.
pid_t helper_pid() {
    pid_t newest = -1;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        std::string state;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent == ::getpid()) newest = std::max(newest, static_cast<pid_t>(std::stoi(name)));
    }
    return newest;
}

// A pfctl that hangs (a stuck /dev/pf) is killed after the timeout and its
// run answered as failed; the session's next step runs as usual.
TEST(PrivilegedRunner, AHungPfctlIsKilledAndItsRunAnswered) {
    StandInDir stand_in(kSlowStandIn);
    boost::asio::io_context io;
    auto runner = start_privileged_runner(stand_in.pfctl, io, std::chrono::milliseconds(300));
    std::vector<ProgramResult> answered;
    auto record = [&answered](ProgramResult result) { answered.push_back(std::move(result)); };
    runner->run({stand_in.pfctl, "-a", "ftp-proxy/4242.1", "-F", "rules"}, "", record);
    io.run_for(std::chrono::seconds(30));  // ends once answered
    ASSERT_EQ(answered.size(), 1u);
    EXPECT_EQ(answered[0].exit_code, -1);
    EXPECT_EQ(answered[0].output, stand_in.pfctl + " did not finish within 300 ms and was killed");
    io.restart();
    runner->run({stand_in.pfctl, "-a", "ftp-proxy/4242.2", "-F", "rules"}, "", record);
    io.run_for(std::chrono::seconds(30));
    ASSERT_EQ(answered.size(), 2u);
    EXPECT_EQ(answered[1].exit_code, 0);
    EXPECT_EQ(answered[1].output, "done ftp-proxy/4242.2\n");
    runner = nullptr;
}

// A helper that cannot answer at all (stopped here; starved or wedged in
// the field) must not strand the session waiting on it: the worker's own
// limit answers the run. This test waits the real limit (timeout + 5 s).
TEST(PrivilegedRunner, AHelperThatDoesNotAnswerStillEndsTheRun) {
    StandInDir stand_in(kSlowStandIn);
    boost::asio::io_context io;
    auto runner = start_privileged_runner(stand_in.pfctl, io, std::chrono::milliseconds(200));
    const pid_t helper = helper_pid();
    ASSERT_GT(helper, 0);
    ASSERT_EQ(::kill(helper, SIGSTOP), 0);
    std::vector<ProgramResult> answered;
    runner->run({stand_in.pfctl, "-a", "ftp-proxy/4242.2", "-F", "rules"}, "",
                [&answered](ProgramResult result) { answered.push_back(std::move(result)); });
    io.run_for(std::chrono::seconds(60));
    ::kill(helper, SIGCONT);
    EXPECT_TRUE(io.stopped()) << "the runner still waits on the helper after the last answer";
    ASSERT_EQ(answered.size(), 1u);
    EXPECT_EQ(answered[0].exit_code, -1);
    EXPECT_EQ(answered[0].output, "pfctl helper did not answer within 5200 ms");
    runner = nullptr;  // the helper exits once it sees the socket closed
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(helper, &status, WNOHANG) == 0; ++i) ::usleep(50'000);
}

}  // namespace
}  // namespace firewall
