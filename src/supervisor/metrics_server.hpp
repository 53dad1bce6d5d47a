// ftpproxyd's HTTP endpoint for Prometheus (global.metrics_listen, off by
// default): GET /metrics answers the page (metrics_text.hpp); any other
// path 404, any other method 405. Boost.Beast does the HTTP.
//
// A scraper is a peer like any other: requests are bounded (8 KiB of
// header, 4 KiB of body), every read and write by kIoTimeout, and at most
// kMaxConnections at once (more are closed at once). Keep-alive, as
// Prometheus uses it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "supervisor/asio.hpp"

namespace supervisor {

inline constexpr std::size_t kMaxMetricsConnections = 16;
inline constexpr std::chrono::seconds kMetricsIoTimeout{10};

class MetricsServer : public std::enable_shared_from_this<MetricsServer> {
  public:
    using Page = std::function<awaitable<std::string>()>;

    // Listens on `where` at once. Throws std::runtime_error ("metrics_listen
    // 127.0.0.1:9121: bind: Address already in use").
    static std::shared_ptr<MetricsServer> start(asio::io_context& io,
                                                const asio::ip::tcp::endpoint& where, Page page);
    // Stops accepting; a scrape under way ends at its next step.
    void close();
    asio::ip::tcp::endpoint local_endpoint() const;

    MetricsServer(asio::io_context& io, Page page);

  private:
    awaitable<void> accept_loop();
    awaitable<void> serve(asio::ip::tcp::socket socket);

    asio::io_context& io_;
    asio::ip::tcp::acceptor acceptor_;
    Page page_;
    std::size_t connections_ = 0;
    bool closed_ = false;
};

}  // namespace supervisor
