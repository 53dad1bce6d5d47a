// DataChannel between a client and a server on real loopback sockets, with
// each relay (splice through a pipe, and the read/write loop): the bytes
// that arrive are the bytes sent, and each side learns how the transfer
// ended, a FIN (read gives eof) for a complete one, a reset for a broken one.
#include "proxy/data_channel.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <sstream>

#include "loopback.hpp"
#include "proxy/net.hpp"
#include "proxy/options.hpp"

namespace proxy {
namespace {

using namespace proxy::test;
using State = DataChannel::State;

enum class Relay { Splice, Copy };

RelayConfig relay_config(Relay relay) {
    if (relay == Relay::Splice) return {true, kDefaultRelayPipeSize};
    return {false, 0};  // splice off: the read/write loop (--relay copy)
}

void PrintTo(Relay relay, std::ostream* out) {
    *out << (relay == Relay::Splice ? "splice" : "read/write");
}

// What the channel logs, to see which relay moved the bytes.
class LogCapture {
  public:
    LogCapture() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::move(sink)));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    std::string text() const { return text_.str(); }

  private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> previous_;
};

class DataChannelTest : public ::testing::TestWithParam<Relay> {
  protected:
    void TearDown() override {
        if (channel_) channel_->close();
        error_code ignored;
        client_.close(ignored);
        server_.close(ignored);
        // The channel's coroutines all end: nothing is left to wait for.
        io_.restart();
        io_.run_for(kGuard);
        EXPECT_TRUE(io_.stopped()) << "work left after close()";
    }

    tcp::acceptor listener() {
        error_code error;
        auto acceptor = listen_on(io_, loopback(), PortRange{}, error);
        EXPECT_FALSE(error) << error.message();
        return acceptor;
    }

    // Passive style: the channel accepts both ends, from 127.0.0.1 only.
    void open(std::chrono::seconds setup_timeout = kGuard) {
        open(DataEnd::accept(listener(), loopback()), DataEnd::accept(listener(), loopback()),
             setup_timeout);
    }
    void open(DataEnd client, DataEnd server, std::chrono::seconds setup_timeout = kGuard) {
        channel_ = DataChannel::create(io_, "#t", activity_, std::move(client), std::move(server),
                                       setup_timeout, relay_config(GetParam()));
        channel_->start();
    }

    // The client, then the server, connect to the channel's listeners.
    void connect_both() {
        client_ = connect_to(io_, {loopback(), channel_->client_listen_port()});
        server_ = connect_to(io_, channel_->server_listen_endpoint());
        ASSERT_TRUE(run_until(io_, [&] { return channel_->state() == State::Relaying; }));
    }

    // Both ends connected and the transfer command sent.
    void relaying(const char* command, bool download) {
        open();
        connect_both();
        channel_->start_transfer(command, download);
    }

    // Both ends read; the sender (the server for a download) sends `size`
    // random bytes, then ends its stream.
    void send(bool download, std::size_t size) {
        data_ = random_bytes(size, size);
        at_client_ = read_all(client_);
        at_server_ = read_all(server_);
        write_and_end(download ? server_ : client_, data_);
    }

    // A whole download on a relaying channel: the client gets every byte
    // and, after the server's answer, a FIN; it closes, and the channel
    // finishes.
    void download(std::size_t size) {
        channel_->start_transfer("RETR file", true);
        send(true, size);
        ASSERT_TRUE(run_until(io_, [&] { return at_client_->bytes.size() == size; }));
        channel_->server_answered();
        ASSERT_TRUE(run_until(io_, [&] { return at_client_->ended(); }));
        EXPECT_TRUE(ended_as(*at_client_, asio::error::eof, data_));
        client_.shutdown(tcp::socket::shutdown_send);
        EXPECT_TRUE(run_until(io_, [&] { return channel_->state() == State::Finished; }));
    }

    const char* relay_name() const {
        return GetParam() == Relay::Splice ? "relay splice" : "relay read/write";
    }

    LogCapture log_;
    asio::io_context io_;
    std::shared_ptr<SessionActivity> activity_ = std::make_shared<SessionActivity>();
    tcp::socket client_{io_}, server_{io_};
    std::shared_ptr<DataChannel> channel_;
    std::string data_;  // what the sender sends
    std::shared_ptr<Received> at_client_, at_server_;
};

// A few MB reach the client byte for byte, through the relay asked for. The
// end of the server's data is held back until the server answered the
// command: before that the client has every byte and no end of stream.
TEST_P(DataChannelTest, DownloadArrivesWholeAndEndsOnlyAfterTheServersAnswer) {
    relaying("RETR file", true);
    send(true, 3 * 1024 * 1024 + 123);
    auto delivered = std::make_shared<bool>(false);
    asio::co_spawn(
        io_,
        [channel = channel_, delivered]() -> awaitable<void> {
            co_await channel->wait_server_data_delivered();
            *delivered = true;
        },
        asio::detached);
    // The proxy closes its side toward the server when it reaches the
    // server's end: from then on it only waits for the answer.
    ASSERT_TRUE(run_until(
        io_, [&] { return at_client_->bytes.size() == data_.size() && at_server_->ended(); }));
    settle(io_);
    EXPECT_FALSE(at_client_->ended()) << "end of stream before the server's answer";
    EXPECT_FALSE(*delivered);

    channel_->server_answered();
    ASSERT_TRUE(run_until(io_, [&] { return at_client_->ended() && *delivered; }));
    EXPECT_TRUE(ended_as(*at_client_, asio::error::eof, data_));
    EXPECT_TRUE(ended_as(*at_server_, asio::error::eof, ""));

    client_.shutdown(tcp::socket::shutdown_send);
    ASSERT_TRUE(run_until(io_, [&] { return channel_->state() == State::Finished; }));
    EXPECT_EQ(activity_->data_bytes, data_.size());
    const auto log = log_.text();
    EXPECT_NE(log.find("data completed: RETR file, 3145851 bytes to client, 0 bytes to server"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(relay_name()), std::string::npos) << log;
}

// An upload reaches the server byte for byte and ends with a clean FIN as
// soon as the client's does (no answer is awaited in this direction).
TEST_P(DataChannelTest, UploadArrivesWholeWithACleanEnd) {
    relaying("STOR file", false);
    send(false, 2 * 1024 * 1024 + 7);
    ASSERT_TRUE(run_until(io_, [&] { return at_server_->ended(); }));
    EXPECT_TRUE(ended_as(*at_server_, asio::error::eof, data_));

    server_.shutdown(tcp::socket::shutdown_send);
    ASSERT_TRUE(run_until(
        io_, [&] { return at_client_->ended() && channel_->state() == State::Finished; }));
    EXPECT_TRUE(ended_as(*at_client_, asio::error::eof, ""));
    EXPECT_EQ(activity_->data_bytes, data_.size());
}

// Port theft: a connection to the client's listener from another address
// is closed, the listener keeps waiting, and the expected client then gets
// through and is the one relayed.
TEST_P(DataChannelTest, PortTheftIsClosedAndTheRightPeerStillGetsThrough) {
    open();
    const tcp::endpoint client_listener{loopback(), channel_->client_listen_port()};
    error_code error;
    tcp::socket thief =
        connect_to(io_, client_listener, error, asio::ip::make_address("127.0.0.2"));
    if (error) GTEST_SKIP() << "cannot connect from 127.0.0.2: " << error.message();
    auto at_thief = read_all(thief);
    // Accepted as the client, the thief would move the channel on.
    ASSERT_TRUE(
        run_until(io_, [&] { return at_thief->ended() || channel_->state() != State::Waiting; }));
    ASSERT_TRUE(at_thief->ended());
    EXPECT_TRUE(ended_as(*at_thief, asio::error::eof, ""));
    EXPECT_EQ(channel_->state(), State::Waiting);
    EXPECT_NE(log_.text().find("port theft refused: client data connection from 127.0.0.2:"),
              std::string::npos)
        << log_.text();

    connect_both();
    download(1000);
}

// Nobody connects: the channel gives up after its setup timeout, finishes,
// and its listeners are closed (a late connection is refused).
TEST_P(DataChannelTest, SetupTimeoutFinishesAndClosesTheListeners) {
    open(std::chrono::seconds{1});
    const tcp::endpoint client_listener{loopback(), channel_->client_listen_port()};
    const tcp::endpoint server_listener = channel_->server_listen_endpoint();
    ASSERT_TRUE(run_until(io_, [&] { return channel_->state() == State::Finished; }));
    EXPECT_NE(log_.text().find("data connection not used within 1 s"), std::string::npos)
        << log_.text();
    error_code error;
    connect_to(io_, client_listener, error);
    EXPECT_EQ(error, asio::error::connection_refused) << error.message();
    connect_to(io_, server_listener, error);
    EXPECT_EQ(error, asio::error::connection_refused) << error.message();
}

// A server that resets in the middle of a download: the client gets a
// reset too, never a FIN that would make the truncated file look whole.
TEST_P(DataChannelTest, ServerResetMidDownloadResetsTheClient) {
    relaying("RETR file", true);
    const auto data = random_bytes(1024 * 1024, 3);
    auto at_client = read_all(client_);
    asio::async_write(server_, asio::buffer(data),
                      [&](error_code, std::size_t) { reset_and_close(server_); });
    ASSERT_TRUE(run_until(io_, [&] { return at_client->ended(); }));
    // What arrived is the start of the file (all of it, if the kernel
    // delivered every byte before the reset), and it ends with a reset.
    EXPECT_TRUE(ended_as(*at_client, asio::error::connection_reset,
                         data.substr(0, at_client->bytes.size())));
    EXPECT_TRUE(run_until(io_, [&] { return channel_->state() == State::Finished; }));
    EXPECT_NE(log_.text().find("data reset by server"), std::string::npos) << log_.text();
}

// close() while a download is incomplete (the server has not ended nor
// answered): the client gets a reset; the server, all of whose bytes went
// through, a plain close.
TEST_P(DataChannelTest, CloseDuringADownloadResetsTheClient) {
    relaying("RETR file", true);
    const auto part = random_bytes(100 * 1024, 4);
    auto at_client = read_all(client_);
    auto at_server = read_all(server_);
    asio::async_write(server_, asio::buffer(part), [](error_code, std::size_t) {});
    ASSERT_TRUE(run_until(io_, [&] { return at_client->bytes.size() == part.size(); }));
    channel_->close();
    ASSERT_TRUE(run_until(io_, [&] { return at_client->ended() && at_server->ended(); }));
    EXPECT_TRUE(ended_as(*at_client, asio::error::connection_reset, part));
    EXPECT_TRUE(ended_as(*at_server, asio::error::eof, ""));
}

// Active style: the proxy connects to both sides, and only once the
// transfer command went to the server.
TEST_P(DataChannelTest, ConnectingChannelConnectsBothSidesAtTheTransfer) {
    tcp::acceptor client_listener(io_, {loopback(), 0});
    tcp::acceptor server_listener(io_, {loopback(), 0});
    open(DataEnd::connect(client_listener.local_endpoint(), std::nullopt),
         DataEnd::connect(server_listener.local_endpoint(), std::nullopt));
    auto client_in = std::make_shared<bool>(false), server_in = std::make_shared<bool>(false);
    client_listener.async_accept(client_, [client_in](error_code e) { *client_in = !e; });
    server_listener.async_accept(server_, [server_in](error_code e) { *server_in = !e; });
    settle(io_);
    EXPECT_EQ(channel_->state(), State::Waiting);
    EXPECT_FALSE(*client_in || *server_in);

    channel_->start_transfer("RETR file", true);
    ASSERT_TRUE(run_until(
        io_, [&] { return *client_in && *server_in && channel_->state() == State::Relaying; }));
    download(300 * 1024);
}

// Backpressure: a client that does not read stops the relay, and the
// server's writes block once the socket buffers and the pipe are full. What
// the server managed to write stays bounded (a relay that read without
// limit would take all of it), and none of it is lost.
TEST_P(DataChannelTest, ClientThatDoesNotReadBlocksTheServer) {
    constexpr std::uint64_t kBound = 64 * 1024 * 1024;
    constexpr int kMaxRounds = 10'000;
    relaying("RETR file", true);
    const auto chunk = random_bytes(256 * 1024, 6);
    std::string sent;
    server_.non_blocking(true);
    for (int round = 0; round < kMaxRounds && sent.size() < kBound; ++round) {
        for (int i = 0; i < 1000 && sent.size() < kBound; ++i) {
            ssize_t n = ::send(server_.native_handle(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            sent.append(chunk, 0, static_cast<std::size_t>(n));
        }
        // The relay runs until the server may write again, or has stayed
        // blocked for a while: then it is blocked for good.
        auto writable = std::make_shared<bool>(false), blocked = std::make_shared<bool>(false);
        auto waiting = std::make_shared<int>(2);
        server_.async_wait(tcp::socket::wait_write, [writable, waiting](error_code e) {
            *writable = !e;
            --*waiting;
        });
        asio::steady_timer quiet(io_, std::chrono::milliseconds(500));
        quiet.async_wait([blocked, waiting](error_code e) {
            *blocked = !e;
            --*waiting;
        });
        ASSERT_TRUE(run_until(io_, [&] { return *writable || *blocked; }));
        server_.cancel();
        quiet.cancel();
        ASSERT_TRUE(run_until(io_, [&] { return *waiting == 0; }));
        if (*blocked) break;
    }
    RecordProperty("server_bytes_written_before_blocking", std::to_string(sent.size()));
    EXPECT_GT(sent.size(), 0u);
    EXPECT_LT(sent.size(), kBound) << "the relay kept reading from the server";

    auto at_client = read_all(client_);
    ::shutdown(server_.native_handle(), SHUT_WR);
    channel_->server_answered();
    ASSERT_TRUE(run_until(io_, [&] { return at_client->ended(); }));
    EXPECT_TRUE(ended_as(*at_client, asio::error::eof, sent));
}

INSTANTIATE_TEST_SUITE_P(Relays, DataChannelTest, ::testing::Values(Relay::Splice, Relay::Copy),
                         [](const auto& info) {
                             return info.param == Relay::Splice ? "Splice" : "Copy";
                         });

}  // namespace
}  // namespace proxy
