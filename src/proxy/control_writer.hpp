// Ordered writes to one control connection from several coroutines.
//
// A session's client connection receives both relayed server replies and the
// proxy's own replies; two concurrent async_writes on one socket would
// interleave. Everything goes through post(): sent at once when nothing is
// queued ahead of it and the socket takes it, else queued for the one writer
// coroutine, which sends in order.
//
// The queue is bounded by its users, not here: they wait with
// wait_backlog_below() before producing more (backpressure), so a peer that
// does not read stops being read instead of growing this buffer.
//
// TLS (AUTH TLS): once the 234 is flushed the session pauses the writer,
// shakes hands, and hands it the TLS stream (use_tls()); whatever was posted
// meanwhile waits and goes out encrypted. A writer closed while paused sends
// nothing more: not one byte in clear text after the 234.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "proxy/asio.hpp"
#include "proxy/tls.hpp"
#include "proxy/wakeup.hpp"

namespace proxy {

class ControlWriter {
  public:
    explicit ControlWriter(tcp::socket& socket);

    // Queues bytes (a complete reply line with CRLF) for sending.
    void post(std::string_view bytes);
    // After everything queued is sent, shut the socket down and close it. A
    // peer that does not take the last bytes within `limit` gets a reset.
    void close_after_flush(std::chrono::seconds limit);
    // Bytes queued but not yet written.
    std::size_t backlog() const { return queued_.size() + writing_.size(); }
    // Completes when backlog() is at most limit (or the writer stopped).
    awaitable<void> wait_backlog_below(std::size_t limit);
    // The writer gave up: a write failed, or it closed the socket.
    bool stopped() const { return stopped_; }
    // Holds every byte posted from now on (see above).
    void pause();
    // Writes through `stream` from now on (it wraps the same socket), and
    // resumes. The end of the connection sends close_notify.
    void use_tls(TlsStream& stream);

    // The writer coroutine; spawn it once.
    awaitable<void> run();

  private:
    void release_buffers();

    tcp::socket& socket_;
    TlsStream* tls_ = nullptr;
    bool paused_ = false;
    std::string queued_, writing_;
    asio::steady_timer wake_;  // never expires; cancelled when there is work
    Wakeup drained_;           // after each write
    asio::steady_timer flush_deadline_;
    bool closing_ = false;
    bool stopped_ = false;
};

}  // namespace proxy
