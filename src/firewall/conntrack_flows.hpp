// Follows the data connections the firewall forwards for the worker (the
// kernel data path, firewall.hpp KernelForwarding) in conntrack, through
// ctnetlink events (libnetfilter_conntrack): when each was used, when it
// ended and how, and its byte counts. The worker relays none of their bytes,
// so this is how a transfer's log line still has them.
//
// Only connections with the kernel mark reach the worker, and of their state
// changes only the start and the end: a socket filter in the kernel drops
// every other event (a busy firewall's conntrack churn never wakes it). A watch names the
// connection as far as the worker knows it before it exists: FROM -> TO:PORT, the original
// direction without the source port; the first new connection that matches becomes the watch's.
//
// Not thread-safe: a worker drives it from its one io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// clang-format off
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
// clang-format on

#include "firewall/firewall.hpp"

struct nfct_handle;

namespace firewall {

// Conntrack counts IP packets: each direction's bytes include the IP and
// TCP headers (`known` is false when accounting was off for the entry).
struct FlowCounters {
    bool known = false;
    std::uint64_t original_packets = 0, original_bytes = 0;  // FROM -> TO
    std::uint64_t reply_packets = 0, reply_bytes = 0;        // back
};

struct FlowEvent {
    enum class Kind { Started, Ended };
    Kind kind = Kind::Started;
    std::uint16_t from_port = 0;  // the connection's source port
    // Ended: "closed" (both sides sent FIN), "reset", or "gone" (the entry
    // was removed: a timeout, or someone flushed conntrack).
    std::string ending;
    FlowCounters counters;  // Ended only
};

struct FlowKey {
    Address from;
    Address to;
    std::uint16_t port = 0;
};

class ConntrackFlows {
  public:
    using Handler = std::function<void(const FlowEvent&)>;

    // Opens the event and query sockets (before the worker chroots and drops
    // privileges: binding the event groups needs CAP_NET_ADMIN). Throws Error.
    ConntrackFlows(boost::asio::io_context& io, std::uint32_t mark);
    ~ConntrackFlows();
    ConntrackFlows(const ConntrackFlows&) = delete;
    ConntrackFlows& operator=(const ConntrackFlows&) = delete;

    void start();
    // Stops reading events (the worker is finishing: nothing may keep its
    // io_context running); each watch gets its Ended at once, ending "still
    // open when the worker stopped", with the counters so far.
    void stop() noexcept;
    // `handler` gets Started once, then Ended once; after Ended the watch is
    // gone by itself. Returns an id for unwatch().
    std::uint64_t watch(const FlowKey& key, Handler handler);
    void unwatch(std::uint64_t id) noexcept;
    // The counters of a connection now (a netlink round trip): for one still
    // running when the worker stops following it.
    FlowCounters counters(const FlowKey& key, std::uint16_t from_port) noexcept;
    // Events the kernel could not deliver (the socket's buffer overflowed):
    // the connections they were about end without their counters.
    std::uint64_t lost_events() const { return lost_events_; }

    // Called by the event callback (libnetfilter_conntrack's C interface).
    struct Seen {
        FlowKey key;
        std::uint16_t from_port = 0;
        int type = 0;        // NFCT_T_NEW, NFCT_T_UPDATE, NFCT_T_DESTROY
        int tcp_state = -1;  // TCP_CONNTRACK_*, -1 unknown
        FlowCounters counters;
    };
    void seen(const Seen& flow);

  private:
    struct Watch {
        std::uint64_t id = 0;
        FlowKey key;
        std::uint16_t from_port = 0;  // 0 until Started
        Handler handler;
    };
    void wait_for_events(boost::asio::posix::stream_descriptor& socket, nfct_handle* handle);
    void read_events(nfct_handle* handle);
    Watch* find(const FlowKey& key, std::uint16_t from_port);

    struct HandleClose {
        void operator()(nfct_handle* handle) const;
    };
    boost::asio::io_context& io_;
    std::uint32_t mark_;
    // New connections and their ends; removals; counter queries.
    std::unique_ptr<nfct_handle, HandleClose> events_, removals_, queries_;
    boost::asio::posix::stream_descriptor socket_, removal_socket_;
    std::vector<Watch> watches_;
    std::uint64_t next_id_ = 1;
    std::uint64_t lost_events_ = 0;
    bool stopped_ = false;
};

}  // namespace firewall
