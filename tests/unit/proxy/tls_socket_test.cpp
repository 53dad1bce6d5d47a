// TlsSocket between two loopback sockets of one io_context: both ends are
// TlsSockets (one accepting, one connecting, with a certificate made here),
// so every test exercises both roles. What the worker relies on: bytes
// through in both directions at once, the end of stream told apart from a
// cut, cancellation as operation_aborted, and a shutdown next to a pending
// read.
#include "proxy/tls_socket.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "loopback.hpp"

namespace proxy {
namespace {

using test::loopback;
using test::run_until;

// A self-signed P-256 certificate, enough for a handshake without
// verification.
void use_new_certificate(asio::ssl::context& context) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    ASSERT_NE(key, nullptr);
    X509* certificate = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
    X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
    X509_set_pubkey(certificate, key);
    X509_NAME* name = X509_get_subject_name(certificate);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
    X509_set_issuer_name(certificate, name);
    ASSERT_GT(X509_sign(certificate, key, EVP_sha256()), 0);
    EXPECT_EQ(SSL_CTX_use_certificate(context.native_handle(), certificate), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(context.native_handle(), key), 1);
    X509_free(certificate);
    EVP_PKEY_free(key);
}

class TlsSocketTest : public ::testing::Test {
  protected:
    void SetUp() override {
        use_new_certificate(server_context_);
        tcp::acceptor acceptor(io_, {loopback(), 0});
        client_socket_ = test::connect_to(io_, acceptor.local_endpoint());
        server_socket_ = acceptor.accept();
        client_ = std::make_unique<TlsSocket>(client_socket_, client_context_);
        server_ = std::make_unique<TlsSocket>(server_socket_, server_context_);
        int done = 0;
        error_code client_error, server_error;
        client_->async_handshake(asio::ssl::stream_base::client, [&](error_code error) {
            client_error = error;
            ++done;
        });
        server_->async_handshake(asio::ssl::stream_base::server, [&](error_code error) {
            server_error = error;
            ++done;
        });
        ASSERT_TRUE(run_until(io_, [&] { return done == 2; }));
        ASSERT_FALSE(client_error) << client_error.message();
        ASSERT_FALSE(server_error) << server_error.message();
    }

    // Reads until an error; what came and how it ended.
    std::shared_ptr<test::Received> read_all(TlsSocket& tls) {
        auto into = std::make_shared<test::Received>();
        asio::co_spawn(
            io_,
            [&tls, into]() -> awaitable<void> {
                std::array<char, 4096> buffer;
                for (;;) {
                    error_code error;
                    std::size_t n =
                        co_await tls.async_read_some(asio::buffer(buffer), with_error(error));
                    into->bytes.append(buffer.data(), n);
                    if (error) {
                        into->end = error;
                        co_return;
                    }
                }
            },
            asio::detached);
        return into;
    }

    asio::io_context io_;
    asio::ssl::context server_context_{asio::ssl::context::tls_server};
    asio::ssl::context client_context_{asio::ssl::context::tls_client};
    tcp::socket client_socket_{io_}, server_socket_{io_};
    std::unique_ptr<TlsSocket> client_, server_;
};

TEST_F(TlsSocketTest, BytesCrossBothWaysAtOnceAndEndWithCloseNotify) {
    // More than both sockets' buffers hold: writes wait for the reader.
    const std::string up = test::random_bytes(3 << 20, 1), down = test::random_bytes(2 << 20, 2);
    auto at_server = read_all(*server_);
    auto at_client = read_all(*client_);
    int shut = 0;
    asio::async_write(*client_, asio::buffer(up), [&](error_code error, std::size_t) {
        EXPECT_FALSE(error) << error.message();
        client_->async_shutdown([&](error_code) { ++shut; });  // a read is pending
    });
    asio::async_write(*server_, asio::buffer(down), [&](error_code error, std::size_t) {
        EXPECT_FALSE(error) << error.message();
        server_->async_shutdown([&](error_code) { ++shut; });
    });
    ASSERT_TRUE(
        run_until(io_, [&] { return at_server->ended() && at_client->ended() && shut == 2; }));
    EXPECT_TRUE(test::ended_as(*at_server, asio::error::eof, up));
    EXPECT_TRUE(test::ended_as(*at_client, asio::error::eof, down));
}

TEST_F(TlsSocketTest, ShutdownWithoutAPendingReadWaitsForThePeersCloseNotify) {
    auto at_server = read_all(*server_);
    bool shut = false;
    error_code shutdown_error;
    client_->async_shutdown([&](error_code error) {
        shutdown_error = error;
        shut = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return at_server->ended(); }));
    EXPECT_EQ(*at_server->end, asio::error::eof);
    test::settle(io_);
    EXPECT_FALSE(shut);  // the server has not answered yet
    server_->async_shutdown([](error_code) {});
    ASSERT_TRUE(run_until(io_, [&] { return shut; }));
    EXPECT_FALSE(shutdown_error) << shutdown_error.message();
}

TEST_F(TlsSocketTest, AShutdownLeavesDataOnItsWayToTheNextRead) {
    const std::string reply = "226 Transfer complete.\r\n";
    bool written = false;
    asio::async_write(*server_, asio::buffer(reply), [&](error_code error, std::size_t) {
        EXPECT_FALSE(error) << error.message();
        written = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return written; }));
    bool shut = false;
    client_->async_shutdown([&](error_code error) {
        EXPECT_FALSE(error) << error.message();
        shut = true;
    });
    ASSERT_TRUE(run_until(io_, [&] { return shut; }));
    server_->async_shutdown([](error_code) {});
    auto at_client = read_all(*client_);
    ASSERT_TRUE(run_until(io_, [&] { return at_client->ended(); }));
    EXPECT_TRUE(test::ended_as(*at_client, asio::error::eof, reply));
}

TEST_F(TlsSocketTest, AnEndWithoutCloseNotifyIsATruncation) {
    auto at_server = read_all(*server_);
    error_code ignored;
    client_socket_.shutdown(tcp::socket::shutdown_send, ignored);
    ASSERT_TRUE(run_until(io_, [&] { return at_server->ended(); }));
    EXPECT_EQ(*at_server->end, asio::ssl::error::stream_truncated) << at_server->end->message();
}

TEST_F(TlsSocketTest, AResetIsASystemError) {
    auto at_server = read_all(*server_);
    client_socket_.set_option(asio::socket_base::linger(true, 0));
    client_socket_.close();
    ASSERT_TRUE(run_until(io_, [&] { return at_server->ended(); }));
    EXPECT_EQ(*at_server->end, asio::error::connection_reset) << at_server->end->message();
}

TEST_F(TlsSocketTest, CancelAndCloseAbortPendingOperations) {
    auto cancelled = read_all(*server_);
    test::settle(io_);
    server_socket_.cancel();
    ASSERT_TRUE(run_until(io_, [&] { return cancelled->ended(); }));
    EXPECT_EQ(*cancelled->end, asio::error::operation_aborted);
    auto closed = read_all(*server_);
    test::settle(io_);
    server_socket_.close();
    ASSERT_TRUE(run_until(io_, [&] { return closed->ended(); }));
    EXPECT_EQ(*closed->end, asio::error::operation_aborted);
    // Once closed, nothing touches the descriptor (its number may be reused).
    auto after = read_all(*server_);
    ASSERT_TRUE(run_until(io_, [&] { return after->ended(); }));
    EXPECT_EQ(*after->end, asio::error::bad_descriptor);
}

TEST_F(TlsSocketTest, BufferedPlaintextIsReadWithoutWaitingForTheSocket) {
    // One record, read a byte at a time: the rest stays inside OpenSSL and
    // the socket never becomes readable again for it.
    const std::string line = "220 ready\r\n";
    bool written = false;
    asio::async_write(*client_, asio::buffer(line),
                      [&](error_code, std::size_t) { written = true; });
    std::string got;
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
            while (got.size() < line.size()) {
                char byte = 0;
                error_code error;
                co_await server_->async_read_some(asio::buffer(&byte, 1), with_error(error));
                if (error) break;
                got += byte;
            }
            done = true;
        },
        asio::detached);
    ASSERT_TRUE(run_until(io_, [&] { return done && written; }));
    EXPECT_EQ(got, line);
}

}  // namespace
}  // namespace proxy
