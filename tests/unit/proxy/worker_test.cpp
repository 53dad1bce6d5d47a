// The worker's shell on real loopback sockets: the session limit (-m) and
// the drain. The backend is a listener of the test that greets and does
// nothing else; sessions themselves are covered by the integration suites.
#include "proxy/worker.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "loopback.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {
namespace {

using namespace proxy::test;

constexpr std::string_view kGreeting = "220 test\r\n";

class WorkerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log_level_ = spdlog::get_level();
        spdlog::set_level(spdlog::level::warn);
    }

    void TearDown() override {
        if (worker_) worker_->drain();
        error_code ignored;
        for (auto* socket : {&first_, &second_, &backend_connection_}) socket->close(ignored);
        io_.restart();
        io_.run_for(kGuard);
        EXPECT_TRUE(io_.stopped()) << "work left after the drain";
        worker_.reset();
        spdlog::set_level(log_level_);
    }

    void start(int max_sessions) {
        Settings settings;
        settings.server = backend_.local_endpoint();
        tcp::acceptor listener(io_, {loopback(), 0});
        proxy_ = listener.local_endpoint();
        worker_.emplace(io_, settings, std::move(listener), max_sessions);
        worker_->on_finished([this] { ++finished_; });
        worker_->start();
    }

    // The backend takes one connection, greets it, and reads until it ends.
    void greet_one() {
        backend_.async_accept(backend_connection_, [this](error_code error) {
            if (error) return;
            asio::async_write(backend_connection_, asio::buffer(kGreeting),
                              [](error_code, std::size_t) {});
            at_backend_ = read_all(backend_connection_);
        });
    }

    // The first client connects and gets the backend's greeting: a session.
    std::shared_ptr<Received> first_session() {
        greet_one();
        first_ = connect_to(io_, proxy_);
        auto at_first = read_all(first_);
        EXPECT_TRUE(run_until(io_, [&] { return at_first->bytes == kGreeting; }))
            << at_first->bytes;
        return at_first;
    }

    asio::io_context io_;
    spdlog::level::level_enum log_level_ = spdlog::level::info;
    tcp::acceptor backend_{io_, {loopback(), 0}};
    tcp::socket backend_connection_{io_}, first_{io_}, second_{io_};
    std::shared_ptr<Received> at_backend_;
    tcp::endpoint proxy_;
    std::optional<Worker> worker_;
    int finished_ = 0;
};

// -m 1: a second client is told 421 and closed (a FIN after the line),
// while the first session goes on.
TEST_F(WorkerTest, ClientBeyondTheLimitGets421AndIsClosed) {
    // The worker's counters are the process's (other tests count too).
    const auto limit_before = metrics().sessions_refused[0];
    const auto sessions_before = metrics().sessions;
    start(1);
    auto at_first = first_session();
    second_ = connect_to(io_, proxy_);
    auto at_second = read_all(second_);
    ASSERT_TRUE(run_until(io_, [&] { return at_second->ended(); }));
    EXPECT_TRUE(ended_as(*at_second, asio::error::eof,
                         "421 Too many sessions (limit 1), try again later.\r\n"));
    EXPECT_FALSE(at_first->ended());
    const auto stats = nlohmann::json::parse(worker_->stats_json());
    EXPECT_EQ(stats["sessions"], 1);
    EXPECT_EQ(stats["accepted"], 1);
    EXPECT_EQ(stats["metrics"]["sessions_refused"]["limit"], limit_before + 1);
    EXPECT_EQ(stats["metrics"]["sessions"], sessions_before + 1);
}

// drain(): the listener is closed at once (a new client is refused), the
// session under way goes on, and the worker finishes when it ends: the
// io_context then runs out of work by itself.
TEST_F(WorkerTest, DrainStopsAcceptingAndFinishesAfterTheLastSession) {
    start(1);
    auto at_first = first_session();
    worker_->drain();
    settle(io_);
    error_code error;
    connect_to(io_, proxy_, error);
    EXPECT_EQ(error, asio::error::connection_refused) << error.message();
    EXPECT_EQ(finished_, 0);
    EXPECT_FALSE(at_first->ended());

    first_.shutdown(tcp::socket::shutdown_send);
    io_.restart();
    io_.run_for(kGuard);
    EXPECT_TRUE(io_.stopped()) << "the io_context still had work after the last session";
    EXPECT_EQ(finished_, 1);
    EXPECT_TRUE(ended_as(*at_first, asio::error::eof, std::string(kGreeting)));
    ASSERT_TRUE(at_backend_ && at_backend_->ended());
    const auto stats = nlohmann::json::parse(worker_->stats_json());
    EXPECT_EQ(stats["sessions"], 0);
    EXPECT_EQ(stats["accepted"], 1);
}

// A drain with no session finishes as soon as the accept loop has stopped.
TEST_F(WorkerTest, DrainWithoutSessionsFinishesAtOnce) {
    start(1);
    worker_->drain();
    io_.restart();
    io_.run_for(kGuard);
    EXPECT_TRUE(io_.stopped());
    EXPECT_EQ(finished_, 1);
}

}  // namespace
}  // namespace proxy
