// What the proxy's socket tests share: peers on real loopback TCP sockets,
// driven by one io_context that the test runs itself, one handler at a
// time, until the condition it waits for holds. Every run is bounded in
// handlers and in time; the time bound only guards against a hang (a
// failure), it is never what a test asserts.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "proxy/asio.hpp"

namespace proxy::test {

// Generous on a noisy shared machine: reaching it is a failure.
inline constexpr std::chrono::seconds kGuard{10};
inline constexpr long kMaxHandlers = 10'000'000;

inline const asio::ip::address& loopback() {
    static const auto address = asio::ip::make_address("127.0.0.1");
    return address;
}

// Runs handlers until done() holds. False when it does not: the guard
// expired, or nothing was left to run that could make it hold.
template <typename Done>
bool run_until(asio::io_context& io, Done done,
               std::chrono::steady_clock::duration guard = kGuard) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    if (io.stopped()) io.restart();
    for (long i = 0; i < kMaxHandlers && !done(); ++i)
        if (io.run_one_until(deadline) == 0) break;
    return done();
}

// Runs what is ready now (at most `limit` handlers), without waiting.
inline void settle(asio::io_context& io, int limit = 10'000) {
    if (io.stopped()) io.restart();
    for (int i = 0; i < limit; ++i)
        if (io.poll_one() == 0) break;
}

// Everything one peer read, and how its stream ended: asio::error::eof for
// a FIN, asio::error::connection_reset for a reset.
struct Received {
    std::string bytes;
    std::optional<error_code> end;
    bool ended() const { return end.has_value(); }
};

// Reads `socket` until end of stream or an error (the socket must outlive
// the read: the tests' sockets outlive their io_context's runs).
inline std::shared_ptr<Received> read_all(tcp::socket& socket) {
    auto into = std::make_shared<Received>();
    asio::co_spawn(
        socket.get_executor(),
        [&socket, into]() -> awaitable<void> {
            auto buffer = std::make_unique<std::array<char, 64 * 1024>>();
            for (;;) {
                error_code error;
                std::size_t n =
                    co_await socket.async_read_some(asio::buffer(*buffer), with_error(error));
                into->bytes.append(buffer->data(), n);
                if (error) {
                    into->end = error;
                    co_return;
                }
            }
        },
        asio::detached);
    return into;
}

// Writes all of `data`, then ends the stream with a FIN. `done` turns true
// once both happened (or the write failed).
inline std::shared_ptr<bool> write_and_end(tcp::socket& socket, const std::string& data) {
    auto done = std::make_shared<bool>(false);
    asio::async_write(socket, asio::buffer(data), [&socket, done](error_code, std::size_t) {
        error_code ignored;
        socket.shutdown(tcp::socket::shutdown_send, ignored);
        *done = true;
    });
    return done;
}

// A blocking connect: on loopback the kernel completes it from the
// listener's backlog, before anyone accepts. From `from` when given.
inline tcp::socket connect_to(asio::io_context& io, const tcp::endpoint& to, error_code& error,
                              std::optional<asio::ip::address> from = std::nullopt) {
    tcp::socket socket(io);
    socket.open(to.protocol(), error);
    if (!error && from) socket.bind({*from, 0}, error);
    if (!error) socket.connect(to, error);
    return socket;
}

inline tcp::socket connect_to(asio::io_context& io, const tcp::endpoint& to,
                              std::optional<asio::ip::address> from = std::nullopt) {
    error_code error;
    auto socket = connect_to(io, to, error, from);
    EXPECT_FALSE(error) << "connect to " << to << ": " << error.message();
    return socket;
}

// Reproducible random bytes.
inline std::string random_bytes(std::size_t size, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::string bytes(size, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xff);
    return bytes;
}

// Byte-identical, or where the first difference is (gtest would print
// megabytes).
inline ::testing::AssertionResult same_bytes(const std::string& got, const std::string& expected) {
    if (got == expected) return ::testing::AssertionSuccess();
    std::size_t at = 0;
    while (at < got.size() && at < expected.size() && got[at] == expected[at]) ++at;
    return ::testing::AssertionFailure() << got.size() << " bytes instead of " << expected.size()
                                         << ", first difference at offset " << at;
}

// The stream ended as `how` (asio::error::eof: a FIN) after exactly
// `bytes`.
inline ::testing::AssertionResult ended_as(const Received& got, error_code how,
                                           const std::string& bytes) {
    if (!got.ended()) return ::testing::AssertionFailure() << "the stream has not ended";
    if (*got.end != how)
        return ::testing::AssertionFailure() << "ended with \"" << got.end->message()
                                             << "\" instead of \"" << how.message() << "\"";
    return same_bytes(got.bytes, bytes);
}

}  // namespace proxy::test
