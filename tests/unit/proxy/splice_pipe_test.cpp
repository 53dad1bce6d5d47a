// SplicePipe against real loopback TCP connections: what each splice outcome
// means to the relay loop (moved, would block, end of stream, unsupported,
// failed) and that the bytes that come out are the bytes that went in.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "proxy/splice_pipe.hpp"

namespace proxy {
namespace {

using common::UniqueFd;

// A connected loopback TCP pair; `near` is the end the relay splices.
struct TcpPair {
    UniqueFd near, far;
};

TcpPair tcp_pair() {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(::listen(listener.get(), 1), 0);
    EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
    TcpPair pair;
    pair.far.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(pair.far.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    pair.near.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    EXPECT_TRUE(pair.near);
    return pair;
}

std::string pattern(std::size_t size) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
    return data;
}

void send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        ASSERT_GT(n, 0) << std::strerror(errno);
        sent += static_cast<std::size_t>(n);
    }
}

// Blocking read of exactly `size` bytes (the far ends are blocking sockets).
std::string receive(int fd, std::size_t size) {
    std::string data(size, '\0');
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::recv(fd, data.data() + got, size - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    return data;
}

// Moves everything `from` has now (bounded: the data was sent before).
std::size_t fill_until_would_block(SplicePipe& pipe, int from) {
    std::size_t moved = 0;
    for (int i = 0; i < 1000; ++i) {
        auto r = pipe.fill_from(from);
        if (r.kind != SpliceResult::Moved) break;
        moved += r.bytes;
    }
    return moved;
}

TEST(SplicePipe, CreateHonoursTheCapacityAsked) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    auto small = SplicePipe::create(4096);
    ASSERT_TRUE(small.valid());
    EXPECT_EQ(small.capacity(), 4096u);
    auto large = SplicePipe::create(256 * 1024);
    ASSERT_TRUE(large.valid());
    EXPECT_EQ(large.capacity(), 256u * 1024);
    EXPECT_EQ(large.pending(), 0u);
    // The kernel rounds up to a power of two pages.
    auto odd = SplicePipe::create(100 * 1024);
    ASSERT_TRUE(odd.valid());
    EXPECT_EQ(odd.capacity(), 128u * 1024);
}

TEST(SplicePipe, BytesComeOutAsTheyWentIn) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    auto in = tcp_pair(), out = tcp_pair();
    auto pipe = SplicePipe::create(64 * 1024);
    ASSERT_TRUE(pipe.valid());
    const std::string data = pattern(40000);
    send_all(in.far.get(), data);
    std::size_t moved = 0;
    for (int i = 0; i < 100 && moved < data.size(); ++i)
        moved += fill_until_would_block(pipe, in.near.get());
    ASSERT_EQ(moved, data.size());
    EXPECT_EQ(pipe.pending(), data.size());
    auto r = pipe.drain_to(out.near.get());
    ASSERT_EQ(r.kind, SpliceResult::Moved);
    EXPECT_EQ(r.bytes, data.size());
    EXPECT_EQ(pipe.pending(), 0u);
    EXPECT_EQ(receive(out.far.get(), data.size()), data);
}

TEST(SplicePipe, NothingToReadWouldBlockThenEndOfStream) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    auto in = tcp_pair();
    auto pipe = SplicePipe::create(4096);
    ASSERT_TRUE(pipe.valid());
    EXPECT_EQ(pipe.fill_from(in.near.get()).kind, SpliceResult::WouldBlock);
    ASSERT_EQ(::shutdown(in.far.get(), SHUT_WR), 0);
    SpliceResult r{SpliceResult::WouldBlock};
    // The FIN is already queued on loopback; a few tries at most.
    for (int i = 0; i < 100 && r.kind == SpliceResult::WouldBlock; ++i) {
        r = pipe.fill_from(in.near.get());
        if (r.kind == SpliceResult::WouldBlock) ::usleep(1000);
    }
    EXPECT_EQ(r.kind, SpliceResult::EndOfStream);
    EXPECT_EQ(pipe.pending(), 0u);
}

// Backpressure: a full pipe takes nothing more; the rest stays in the
// socket (and TCP flow control holds the sender), and nothing is lost.
TEST(SplicePipe, AFullPipeTakesNoMoreAndLosesNothing) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    auto in = tcp_pair(), out = tcp_pair();
    auto pipe = SplicePipe::create(16 * 1024);
    ASSERT_TRUE(pipe.valid());
    const std::string data = pattern(100 * 1024);
    send_all(in.far.get(), data);
    fill_until_would_block(pipe, in.near.get());
    EXPECT_EQ(pipe.pending(), pipe.capacity());
    auto full = pipe.fill_from(in.near.get());
    EXPECT_EQ(full.kind, SpliceResult::WouldBlock);
    EXPECT_EQ(full.bytes, 0u);
    // `max` bounds one call below the free room.
    ASSERT_EQ(pipe.drain_to(out.near.get()).kind, SpliceResult::Moved);
    auto bounded = pipe.fill_from(in.near.get(), 1000);
    ASSERT_EQ(bounded.kind, SpliceResult::Moved);
    EXPECT_LE(bounded.bytes, 1000u);
    // Relay the rest and compare.
    std::string received = receive(out.far.get(), pipe.capacity());
    for (int i = 0; i < 1000 && received.size() < data.size(); ++i) {
        fill_until_would_block(pipe, in.near.get());
        auto r = pipe.drain_to(out.near.get());
        ASSERT_NE(r.kind, SpliceResult::Failed) << std::strerror(r.error);
        received += receive(out.far.get(), r.bytes);
    }
    EXPECT_EQ(received, data);
}

TEST(SplicePipe, ADescriptorThatCannotSpliceIsUnsupported) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    UniqueFd event(::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_TRUE(event);
    auto pipe = SplicePipe::create(4096);
    ASSERT_TRUE(pipe.valid());
    auto r = pipe.fill_from(event.get());
    EXPECT_EQ(r.kind, SpliceResult::Unsupported) << r.error;
}

TEST(SplicePipe, APeerThatResetIsAFailureNotAStall) {
    if (!SplicePipe::compiled_in()) GTEST_SKIP() << "no splice(2) on this system";
    auto in = tcp_pair(), out = tcp_pair();
    auto pipe = SplicePipe::create(64 * 1024);
    ASSERT_TRUE(pipe.valid());
    send_all(in.far.get(), pattern(8192));
    for (int i = 0; i < 100 && pipe.pending() < 8192; ++i)
        fill_until_would_block(pipe, in.near.get());
    ASSERT_EQ(pipe.pending(), 8192u);
    // SO_LINGER 0: close sends a RST.
    linger reset{1, 0};
    ASSERT_EQ(::setsockopt(out.far.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    out.far.reset();
    SpliceResult r{SpliceResult::Moved};
    for (int i = 0; i < 100 && r.kind != SpliceResult::Failed; ++i) {
        r = pipe.drain_to(out.near.get());
        if (r.kind != SpliceResult::Failed) ::usleep(1000);
    }
    EXPECT_EQ(r.kind, SpliceResult::Failed);
    EXPECT_TRUE(r.error == ECONNRESET || r.error == EPIPE) << std::strerror(r.error);
}

}  // namespace
}  // namespace proxy
