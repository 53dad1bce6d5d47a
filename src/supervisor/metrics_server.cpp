#include "supervisor/metrics_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>
#include <string_view>

#include "common/net_address.hpp"

namespace supervisor {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::uint32_t kMaxHeader = 8192;
constexpr std::uint64_t kMaxBody = 4096;
constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

http::response<http::string_body> answer(const http::request<http::string_body>& request,
                                         http::status status, std::string body,
                                         std::string_view type = "text/plain; charset=utf-8") {
    http::response<http::string_body> response{status, request.version()};
    response.set(http::field::server, "ftpproxyd");
    response.set(http::field::content_type, beast::string_view(type.data(), type.size()));
    response.keep_alive(request.keep_alive());
    if (status == http::status::method_not_allowed) response.set(http::field::allow, "GET");
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
}

}  // namespace

MetricsServer::MetricsServer(asio::io_context& io, Page page)
    : io_(io), acceptor_(io), page_(std::move(page)) {}

std::shared_ptr<MetricsServer> MetricsServer::start(asio::io_context& io,
                                                    const asio::ip::tcp::endpoint& where,
                                                    Page page) {
    auto server = std::make_shared<MetricsServer>(io, std::move(page));
    error_code error;
    const char* step = "open";
    server->acceptor_.open(where.protocol(), error);
    if (!error) {
        step = "bind";
        server->acceptor_.set_option(asio::socket_base::reuse_address(true), error);
        if (!error) server->acceptor_.bind(where, error);
    }
    if (!error) {
        step = "listen";
        server->acceptor_.listen(asio::socket_base::max_listen_connections, error);
    }
    if (error)
        throw std::runtime_error("metrics_listen " + common::format_endpoint(where) + ": " + step +
                                 ": " + error.message());
    asio::co_spawn(
        io, [server]() { return server->accept_loop(); }, asio::detached);
    return server;
}

void MetricsServer::close() {
    closed_ = true;
    error_code ignored;
    acceptor_.close(ignored);
}

asio::ip::tcp::endpoint MetricsServer::local_endpoint() const {
    error_code ignored;
    return acceptor_.local_endpoint(ignored);
}

awaitable<void> MetricsServer::accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer pause(io_);
    while (!closed_) {
        asio::ip::tcp::socket socket(io_);
        error_code error;
        co_await acceptor_.async_accept(socket, with_error(error));
        if (closed_ || error == asio::error::operation_aborted) break;
        if (error) {
            // EMFILE and the like: wait instead of spinning on the error.
            spdlog::warn("metrics: accept failed: {}", error.message());
            pause.expires_after(std::chrono::milliseconds(100));
            co_await pause.async_wait(with_error(error));
            continue;
        }
        if (connections_ >= kMaxMetricsConnections) continue;  // closed as it goes
        ++connections_;
        asio::co_spawn(
            io_, [self, s = std::move(socket)]() mutable { return self->serve(std::move(s)); },
            asio::detached);
    }
}

awaitable<void> MetricsServer::serve(asio::ip::tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (!closed_) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeader);
        parser.body_limit(kMaxBody);  // read, so that a POST gets its 405
        error_code error;
        stream.expires_after(kMetricsIoTimeout);
        co_await http::async_read(stream, buffer, parser, with_error(error));
        if (error) break;  // closed, timed out, or not HTTP: nothing to answer
        const auto& request = parser.get();
        std::string_view path(request.target().data(), request.target().size());
        path = path.substr(0, path.find('?'));
        http::response<http::string_body> response;
        if (request.method() != http::verb::get) {
            response = answer(request, http::status::method_not_allowed, "GET /metrics\n");
        } else if (path != "/metrics") {
            response = answer(request, http::status::not_found,
                              "Not found: ftpproxyd's metrics are at /metrics\n");
        } else {
            std::string page = co_await page_();
            if (closed_) break;
            response = answer(request, http::status::ok, std::move(page), kContentType);
        }
        stream.expires_after(kMetricsIoTimeout);
        co_await http::async_write(stream, response, with_error(error));
        if (error || !response.keep_alive()) break;
    }
    error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    --connections_;
}

}  // namespace supervisor
