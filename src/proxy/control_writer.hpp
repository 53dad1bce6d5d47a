// Ordered writes to one control connection from several coroutines.
//
// A session's client connection receives both relayed server replies and the
// proxy's own replies; two concurrent async_writes on one socket would
// interleave. Everything goes through post(): sent at once when nothing is
// queued ahead of it and the socket takes it, else queued for the one writer
// coroutine, which sends in order.
#pragma once

#include <string>
#include <string_view>

#include "proxy/asio.hpp"

namespace proxy {

class ControlWriter {
  public:
    explicit ControlWriter(tcp::socket& socket);

    // Queues bytes (a complete reply line with CRLF) for sending.
    void post(std::string_view bytes);
    // After everything queued is sent, shut the socket down and close it.
    void close_after_flush();
    // Bytes queued but not yet written.
    std::size_t backlog() const { return queued_.size() + writing_.size(); }
    // Completes when backlog() is at most limit (or the writer stopped).
    awaitable<void> wait_backlog_below(std::size_t limit);

    // The writer coroutine; spawn it once.
    awaitable<void> run();

  private:
    tcp::socket& socket_;
    std::string queued_, writing_;
    asio::steady_timer wake_;     // never expires; cancelled when there is work
    asio::steady_timer drained_;  // never expires; cancelled after each write
    bool closing_ = false;
    bool stopped_ = false;
};

}  // namespace proxy
