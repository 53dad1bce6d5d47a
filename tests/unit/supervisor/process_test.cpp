// The process pieces that need no worker: a worker's exit in words, the
// listen socket, the worker's stats line, sd_notify's datagram. Starting a
// program (fork/exec with exact descriptors) is tested in
// tests/unit/common/spawn_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "../common/wait_for.hpp"
#include "common/spawn.hpp"
#include "common/unique_fd.hpp"
#include "common/worker_exit_codes.hpp"
#include "supervisor/listen_socket.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/worker_control.hpp"
#include "supervisor/worker_process.hpp"

namespace {

using namespace supervisor;
using test_support::wait_for;

TEST(WaitStatus, AWorkersExitInWords) {
    const common::SpawnResult exit71 = common::spawn_process({"/bin/sh", "-c", "exit 71"}, {});
    EXPECT_EQ(describe_worker_exit(wait_for(exit71.pid)),
              "exit 71 (cannot listen or drop privileges)");
}

// One cause per exit code of the worker: 69 was both an unresolvable backend
// name and a firewall that could not work, and status named only the first.
TEST(WaitStatus, EveryWorkerExitCodeHasItsOwnWords) {
    const std::pair<int, std::string> expected[] = {
        {64, "exit 64 (usage error)"},
        {68, "exit 68 (backend name unresolvable)"},
        {69, "exit 69 (firewall unavailable)"},
        {71, "exit 71 (cannot listen or drop privileges)"},
        {1, "exit 1"},
        {70, "exit 70"},
    };
    for (const auto& [code, words] : expected) {
        const common::SpawnResult spawned =
            common::spawn_process({"/bin/sh", "-c", "exit " + std::to_string(code)}, {});
        EXPECT_EQ(describe_worker_exit(wait_for(spawned.pid)), words);
    }
    std::set<std::string_view> meanings;
    for (const auto& entry : common::kWorkerExitCodes) {
        EXPECT_FALSE(entry.meaning.empty()) << entry.code;
        EXPECT_TRUE(meanings.insert(entry.meaning).second) << entry.meaning;
    }
    EXPECT_EQ(common::worker_exit_meaning(common::kWorkerExitNoHost), "backend name unresolvable");
    EXPECT_EQ(common::worker_exit_meaning(common::kWorkerExitUnavailable), "firewall unavailable");
}

TEST(ListenSocket, BusyPortIsAClearError) {
    ListenResult first = open_listen_socket(*common::parse_ip_address("127.0.0.1"), 0);
    ASSERT_TRUE(first.fd);
    sockaddr_in address{};
    socklen_t length = sizeof address;
    getsockname(first.fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    const auto port = ntohs(address.sin_port);
    ListenResult second = open_listen_socket(*common::parse_ip_address("127.0.0.1"), port);
    EXPECT_FALSE(second.fd);
    EXPECT_EQ(second.error, "cannot listen on 127.0.0.1:" + std::to_string(port) +
                                ": bind: Address already in use");
}

TEST(WorkerStats, ParsesTheWorkersAnswer) {
    EXPECT_EQ(parse_worker_stats(R"({"sessions":3,"accepted":17,"refused":0,"draining":false})"),
              (WorkerStats{3, 17, {}}));
    EXPECT_EQ(parse_worker_stats(R"({"sessions":1,"accepted":2,"metrics":{"logins":{"ok":5}}})")
                  ->metrics["logins"]["ok"],
              5);
    EXPECT_EQ(parse_worker_stats(R"({"ok":true})"), std::nullopt) << "a drain's answer";
    EXPECT_EQ(parse_worker_stats(R"({"sessions":-1})"), std::nullopt);
    EXPECT_EQ(parse_worker_stats("sessions 3"), std::nullopt);
    EXPECT_EQ(parse_worker_stats(""), std::nullopt);
}

// ftpproxyd's end of a worker's control socketpair; the test plays the
// worker on the other end.
class WorkerControlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        int pair[2];
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        worker_.reset(pair[1]);
        control_ = std::make_shared<WorkerControl>(io_, common::UniqueFd(pair[0]));
    }

    StatsReply query(std::chrono::milliseconds timeout) {
        std::optional<StatsReply> reply;
        asio::co_spawn(io_, WorkerControl::query_stats(control_, timeout),
                       [&](std::exception_ptr, StatsReply r) { reply = r; });
        io_.restart();
        io_.run_for(std::chrono::seconds(10));
        EXPECT_TRUE(reply.has_value());
        return reply.value_or(StatsReply{});
    }
    // What the worker was sent.
    std::string requests() {
        char buffer[256];
        const ssize_t n = recv(worker_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        return n > 0 ? std::string(buffer, n) : std::string();
    }
    void answer(const std::string& lines) {
        ASSERT_EQ(write(worker_.get(), lines.data(), lines.size()),
                  static_cast<ssize_t>(lines.size()));
    }

    asio::io_context io_;
    common::UniqueFd worker_;
    std::shared_ptr<WorkerControl> control_;
};

using Outcome = StatsReply::Outcome;

TEST_F(WorkerControlTest, AWorkerThatDoesNotAnswerInTimeIsToldApartAndComesBack) {
    EXPECT_EQ(query(std::chrono::milliseconds(50)).outcome, Outcome::no_answer);
    EXPECT_EQ(requests(), "stats\n");
    // It wakes up (SIGCONT): the late answer comes, and the next query's.
    answer("{\"sessions\":1,\"accepted\":1}\n{\"sessions\":2,\"accepted\":5}\n");
    const StatsReply reply = query(std::chrono::seconds(5));
    EXPECT_EQ(reply.outcome, Outcome::answered);
    EXPECT_EQ(reply.stats, (WorkerStats{2, 5, {}})) << "the late answer is set aside, not taken";
    EXPECT_EQ(requests(), "stats\n");
}

TEST_F(WorkerControlTest, ADrainsAnswerIsSetAside) {
    EXPECT_TRUE(control_->send_drain());
    EXPECT_EQ(requests(), "drain\n");
    answer("{\"ok\":true}\n{\"sessions\":0,\"accepted\":3}\n");
    const StatsReply reply = query(std::chrono::seconds(5));
    EXPECT_EQ(reply.outcome, Outcome::answered);
    EXPECT_EQ(reply.stats, (WorkerStats{0, 3, {}}));
}

// status and the liveness watch may ask at the same moment: the second
// caller waits for the first one's query and gets its answer; the worker
// is asked once.
TEST_F(WorkerControlTest, ASecondCallerSharesTheQueryUnderWay) {
    answer("{\"sessions\":4,\"accepted\":9}\n");
    std::vector<StatsReply> replies;
    for (int i = 0; i < 2; ++i) {
        asio::co_spawn(io_, WorkerControl::query_stats(control_, std::chrono::seconds(5)),
                       [&](std::exception_ptr, StatsReply r) { replies.push_back(r); });
    }
    io_.run_for(std::chrono::seconds(10));
    ASSERT_EQ(replies.size(), 2u);
    for (const auto& reply : replies) {
        EXPECT_EQ(reply.outcome, Outcome::answered);
        EXPECT_EQ(reply.stats, (WorkerStats{4, 9, {}}));
    }
    EXPECT_EQ(requests(), "stats\n");
}

TEST_F(WorkerControlTest, AWorkerThatIsGoneIsUnavailable) {
    worker_.reset();
    EXPECT_EQ(query(std::chrono::seconds(5)).outcome, Outcome::unavailable);
    EXPECT_EQ(query(std::chrono::seconds(5)).outcome, Outcome::unavailable);
    EXPECT_FALSE(control_->send_drain());
}

// A datagram socket standing in for systemd's.
class NotifySocket {
  public:
    explicit NotifySocket(const std::string& name) : fd_(socket(AF_UNIX, SOCK_DGRAM, 0)) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, name.data(), name.size());
        socklen_t length = offsetof(sockaddr_un, sun_path) + name.size();
        if (name[0] == '@') {
            address.sun_path[0] = '\0';
        } else {
            ::unlink(name.c_str());
            length += 1;
        }
        EXPECT_EQ(bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
        setenv("NOTIFY_SOCKET", name.c_str(), 1);
    }
    ~NotifySocket() { unsetenv("NOTIFY_SOCKET"); }
    std::string receive() {
        char buffer[256];
        const ssize_t n = recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        return n > 0 ? std::string(buffer, n) : std::string();
    }

  private:
    common::UniqueFd fd_;
};

TEST(SdNotify, SendsToAnAbstractSocket) {
    NotifySocket systemd("@ftpproxy-test-notify-" + std::to_string(getpid()));
    EXPECT_TRUE(sd_notify("READY=1"));
    EXPECT_EQ(systemd.receive(), "READY=1");
}

TEST(SdNotify, SendsToAPathSocket) {
    const std::string path = "/tmp/ftpproxy-test-notify-" + std::to_string(getpid());
    NotifySocket systemd(path);
    EXPECT_TRUE(sd_notify("STOPPING=1"));
    EXPECT_EQ(systemd.receive(), "STOPPING=1");
    ::unlink(path.c_str());
}

TEST(SdNotify, NeverWaitsForAReceiverThatDoesNotRead) {
    NotifySocket systemd("@ftpproxy-test-notify-full-" + std::to_string(getpid()));
    int lost = 0;
    for (int i = 0; i < 1000; ++i) {
        if (!sd_notify("STATUS=filling the queue")) ++lost;
    }
    EXPECT_GT(lost, 0) << "the queue is bounded; a blocking send would have hung here";
}

TEST(SdNotify, WithoutSystemdDoesNothing) {
    unsetenv("NOTIFY_SOCKET");
    std::string error = "unchanged";
    EXPECT_FALSE(sd_notify("READY=1", &error));
    EXPECT_EQ(error, "");
    setenv("NOTIFY_SOCKET", "relative", 1);
    EXPECT_FALSE(sd_notify("READY=1", &error));
    EXPECT_EQ(error, "NOTIFY_SOCKET is not a path or @name");
    unsetenv("NOTIFY_SOCKET");
}

}  // namespace
