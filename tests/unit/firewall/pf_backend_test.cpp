// The pf backend against a stand-in pfctl that records its argv and stdin:
// what reaches pf per negotiation, at session end and on errors.
#include "firewall/pf_backend.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden.hpp"
#include "outcome.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
namespace fs = std::filesystem;

// Records "argv: …" and, for `-f -`, "stdin:" plus what it read. It fails a
// load when the file fail-load exists, and answers -sA from the file anchors.
constexpr const char* kStandIn = R"(#!/bin/sh
dir=$(dirname "$0")
{ printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\n'; } >> "$dir/calls.log"
case " $* " in
*" -f - "*)
    printf 'stdin:\n' >> "$dir/calls.log"
    cat >> "$dir/calls.log"
    if [ -e "$dir/fail-load" ]; then echo "stdin:1: syntax error" >&2; exit 1; fi ;;
*" -sA"*) cat "$dir/anchors" 2>/dev/null ;;
esac
exit 0
)";

constexpr pid_t kPid = 4242;  // fixed, so that golden files name the anchor

using test::kOk;
using test::record;

class PfBackendTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/ftpx-pfctl-XXXXXX";
        ASSERT_NE(nullptr, ::mkdtemp(pattern));
        dir_ = pattern;
        std::ofstream(dir_ / "pfctl") << kStandIn;
        fs::permissions(dir_ / "pfctl", fs::perms::owner_all);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string pfctl() const { return (dir_ / "pfctl").string(); }
    std::string calls() const {
        std::ifstream file(dir_ / "calls.log");
        std::ostringstream text;
        text << file.rdbuf();
        return text.str();
    }
    void touch(const std::string& name, const std::string& text = "") {
        std::ofstream(dir_ / name) << text;
    }

    static PassiveExpectation passive(std::uint64_t session) {
        PassiveExpectation e;
        e.session = session;
        e.client = make_address("198.18.0.2");
        e.server = make_address("198.19.0.80");
        e.port = 50001;
        e.proxy = make_address("198.18.0.1");
        e.local_port = 50001;
        return e;
    }
    static ActiveExpectation active(std::uint64_t session) {
        ActiveExpectation e;
        e.session = session;
        e.server = make_address("198.19.0.80");
        e.proxy = make_address("198.19.0.1");
        e.port = 50002;
        return e;
    }

    fs::path dir_;
};

// A negotiation loads the anchor, the next one replaces it, the arrival of
// the connection empties it; a second clear costs no pfctl run.
TEST_F(PfBackendTest, SessionLifecycle) {
    PfBackend backend({}, pfctl(), kPid);
    backend.expect_passive(passive(7), kOk);
    backend.expect_active(active(7), kOk);
    backend.clear_session(7);
    backend.clear_session(7);
    backend.clear_session(99);  // never loaded
    test::expect_golden("pf_backend_session.log", calls());
}

// Active mode with an onward leg: the arrival of the server's connection
// leaves only the `pass out … nat-to` rule, for the proxy's connection to
// the client that follows; the session's end empties the anchor. Without an
// onward leg the arrival empties it. With --passive-to-server the rule is
// all there is.
TEST_F(PfBackendTest, ArrivalKeepsOnlyTheOnwardRule) {
    PfBackend backend({}, pfctl(), kPid);
    ActiveExpectation e = active(7);
    e.onward = OnwardLeg{make_address("198.18.0.1"), make_address("198.18.0.2"), 41000,
                         make_address("198.19.0.80"), 0};
    backend.expect_active(e, kOk);
    backend.connection_arrived(7);
    backend.connection_arrived(7);  // a second arrival empties the anchor
    backend.expect_passive(passive(8), kOk);
    backend.connection_arrived(8);
    backend.expect_active(e, kOk);
    backend.connection_arrived(7);
    backend.clear_session(7);
    backend.expect_onward({9, *e.onward, std::chrono::seconds(30)}, kOk);  // --passive-to-server
    backend.clear_session(9);
    test::expect_golden("pf_backend_arrival.log", calls());
}

TEST_F(PfBackendTest, FailedLoadEmptiesTheAnchor) {
    touch("fail-load");
    PfBackend backend({}, pfctl(), kPid);
    std::string outcome;
    backend.expect_passive(passive(3), record(outcome));
    EXPECT_NE(outcome.find("syntax error"), std::string::npos) << outcome;
    test::expect_golden("pf_backend_load_failure.log", calls());
    fs::remove(dir_ / "calls.log");
    backend.clear_session(3);  // already emptied on the error path
    EXPECT_EQ("", calls());
}

TEST_F(PfBackendTest, RenderErrorEmptiesThePreviousNegotiation) {
    PfBackend backend({}, pfctl(), kPid);
    backend.expect_passive(passive(5), kOk);
    PassiveExpectation mixed = passive(5);
    mixed.server = make_address("fd18:1::80");
    std::string outcome;
    backend.expect_passive(mixed, record(outcome));
    EXPECT_NE(outcome, "ok");
    EXPECT_NE(outcome, "");
    const std::string log = calls();
    EXPECT_NE(log.find("argv: -a ftp-proxy/4242.5 -F rules"), std::string::npos) << log;
}

TEST_F(PfBackendTest, MissingPfctlIsAnError) {
    PfBackend backend({}, (dir_ / "no-such-pfctl").string(), kPid);
    std::string outcome;
    backend.expect_active(active(1), record(outcome));
    EXPECT_NE(outcome.find("no-such-pfctl"), std::string::npos) << outcome;
    EXPECT_THROW(backend.init(), Error);
}

TEST_F(PfBackendTest, ShutdownEmptiesEveryLoadedAnchor) {
    PfBackend backend({}, pfctl(), kPid);
    backend.expect_passive(passive(1), kOk);
    backend.expect_active(active(2), kOk);
    fs::remove(dir_ / "calls.log");
    backend.shutdown();
    EXPECT_EQ("argv: -a ftp-proxy/4242.1 -F rules\nargv: -a ftp-proxy/4242.2 -F rules\n", calls());
}

// Anchors of a dead worker are emptied; a live worker's (same program name)
// and our own are left alone.
TEST_F(PfBackendTest, InitEmptiesAnchorsOfDeadWorkers) {
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const pid_t live = ::fork();
    if (live == 0) {
        ::pause();
        ::_exit(0);
    }
    touch("anchors", "  ftp-proxy\n  ftp-proxy/" + std::to_string(dead) + ".3\n  ftp-proxy/" +
                         std::to_string(live) + ".1\n  ftp-proxy/4242.5\n");
    PfBackend backend({}, pfctl(), kPid);
    backend.init();
    ::kill(live, SIGKILL);
    ::waitpid(live, nullptr, 0);
    EXPECT_EQ(
        "argv: -a ftp-proxy -sA\nargv: -a ftp-proxy/" + std::to_string(dead) + ".3 -F rules\n",
        calls());
}

TEST(MakeBackend, NamesAndErrors) {
    boost::asio::io_context io;
    EXPECT_EQ("none", make_backend("none", {}, "p1", io)->name());
    EXPECT_THROW(make_backend("ipfw", {}, "p1", io), Error);
    ::setenv("FTPPROXY_PFCTL", "/nonexistent/pfctl", 1);
    EXPECT_THROW(make_backend("pf", {}, "p1", io), Error);
    ::setenv("FTPPROXY_PFCTL", "/bin/true", 1);
    EXPECT_EQ("pf", make_backend("pf", {}, "p1", io)->name());
    ::unsetenv("FTPPROXY_PFCTL");
}

// Holds every run until the test answers it: the helper's pfctl runs,
// which finish in any order.
class ManualRunner : public PfctlRunner {
  public:
    ProgramResult run_now(const std::vector<std::string>& argv, const std::string&) override {
        now.push_back(argv[2] + " " + argv[3]);
        return {0, ""};
    }
    void run(std::vector<std::string> argv, std::string, Done done) override {
        pending.push_back({argv[2] + " " + argv[3], std::move(done)});
    }
    // "ANCHOR OP" of the runs under way, in the order they were asked for.
    std::vector<std::string> running() const {
        std::vector<std::string> names;
        for (const auto& run : pending) names.push_back(run.first);
        return names;
    }
    void answer(const std::string& name, int exit_code) {
        for (auto it = pending.begin(); it != pending.end(); ++it) {
            if (it->first != name) continue;
            auto done = std::move(it->second);
            pending.erase(it);
            done({exit_code, exit_code == 0 ? "" : "pfctl: syntax error\n"});
            return;
        }
        ADD_FAILURE() << name << " is not running";
    }

    std::vector<std::pair<std::string, Done>> pending;
    std::vector<std::string> now;
};

using Names = std::vector<std::string>;

class PfBackendAsyncTest : public PfBackendTest {
  protected:
    std::shared_ptr<ManualRunner> runner_ = std::make_shared<ManualRunner>();
    PfBackend backend_{{}, "/sbin/pfctl", kPid, runner_};
};

// A slow pfctl for one session holds back that session's next change (its
// flush must not overtake the load it empties), never another session's.
TEST_F(PfBackendAsyncTest, OneSessionInOrderOthersMeanwhile) {
    std::string first, second;
    backend_.expect_passive(passive(1), record(first));
    backend_.clear_session(1);
    backend_.expect_passive(passive(2), record(second));
    EXPECT_EQ(runner_->running(), (Names{"ftp-proxy/4242.1 -f", "ftp-proxy/4242.2 -f"}));
    runner_->answer("ftp-proxy/4242.2 -f", 0);
    EXPECT_EQ(second, "ok");
    EXPECT_EQ(first, "");  // still under way
    runner_->answer("ftp-proxy/4242.1 -f", 0);
    EXPECT_EQ(first, "ok");
    EXPECT_EQ(runner_->running(), (Names{"ftp-proxy/4242.1 -F"}));
    runner_->answer("ftp-proxy/4242.1 -F", 0);
    EXPECT_TRUE(runner_->running().empty());
}

// A failed load empties the anchor before the session's next load runs.
TEST_F(PfBackendAsyncTest, FailedLoadIsEmptiedBeforeTheNextLoad) {
    std::string first, second;
    backend_.expect_passive(passive(1), record(first));
    backend_.expect_active(active(1), record(second));
    runner_->answer("ftp-proxy/4242.1 -f", 1);
    EXPECT_NE(first.find("syntax error"), std::string::npos) << first;
    EXPECT_EQ(runner_->running(), (Names{"ftp-proxy/4242.1 -F"}));
    runner_->answer("ftp-proxy/4242.1 -F", 0);
    EXPECT_EQ(runner_->running(), (Names{"ftp-proxy/4242.1 -f"}));
    runner_->answer("ftp-proxy/4242.1 -f", 0);
    EXPECT_EQ(second, "ok");
}

// At exit, queued changes are dropped and every anchor that may hold rules
// (loaded, or with a load under way) is emptied, waiting for each.
TEST_F(PfBackendAsyncTest, ShutdownEmptiesAnchorsWithLoadsUnderWay) {
    backend_.expect_passive(passive(1), [](const std::string&) {});
    backend_.expect_active(active(1), [](const std::string&) {});
    backend_.expect_passive(passive(2), [](const std::string&) {});
    runner_->answer("ftp-proxy/4242.2 -f", 0);
    backend_.shutdown();
    EXPECT_EQ(runner_->now, (Names{"ftp-proxy/4242.1 -F", "ftp-proxy/4242.2 -F"}));
}

}  // namespace
}  // namespace firewall
