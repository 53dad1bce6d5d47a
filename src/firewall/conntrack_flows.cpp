#include "firewall/conntrack_flows.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/net_address.hpp"

namespace firewall {
namespace {

// The event socket's receive buffer: room for the events of a burst of new
// data connections (each lives through about six events) while the worker
// is busy elsewhere. The kernel drops what does not fit (ENOBUFS).
constexpr unsigned kEventBuffer = 4u << 20;

std::string os_error(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

Address source_of(const nf_conntrack* ct, bool v4, bool destination) {
    if (v4) {
        const std::uint32_t raw =
            nfct_get_attr_u32(ct, destination ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV4_SRC);
        return boost::asio::ip::address_v4(ntohl(raw));
    }
    const void* raw = nfct_get_attr(ct, destination ? ATTR_ORIG_IPV6_DST : ATTR_ORIG_IPV6_SRC);
    boost::asio::ip::address_v6::bytes_type bytes{};
    if (raw) std::memcpy(bytes.data(), raw, bytes.size());
    return boost::asio::ip::address_v6(bytes);
}

FlowCounters counters_of(const nf_conntrack* ct) {
    FlowCounters c;
    if (!nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES)) return c;
    c.known = true;
    c.original_packets = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
    c.original_bytes = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
    c.reply_packets = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
    c.reply_bytes = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
    return c;
}

int on_event(enum nf_conntrack_msg_type type, struct nf_conntrack* ct, void* data) {
    if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != IPPROTO_TCP) return NFCT_CB_CONTINUE;
    const bool v4 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET;
    ConntrackFlows::Seen seen;
    seen.key = {source_of(ct, v4, false), source_of(ct, v4, true),
                ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST))};
    seen.from_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
    seen.type = type;
    if (nfct_attr_is_set(ct, ATTR_TCP_STATE)) seen.tcp_state = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
    seen.counters = counters_of(ct);
    static_cast<ConntrackFlows*>(data)->seen(seen);
    return NFCT_CB_CONTINUE;
}

int on_reply(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
    *static_cast<FlowCounters*>(data) = counters_of(ct);
    return NFCT_CB_CONTINUE;
}

bool same(const FlowKey& a, const FlowKey& b) {
    return a.port == b.port && common::canonical(a.from) == common::canonical(b.from) &&
           common::canonical(a.to) == common::canonical(b.to);
}

}  // namespace

void ConntrackFlows::HandleClose::operator()(nfct_handle* handle) const {
    nfct_close(handle);
}

// Only our connections' events reach the worker: a socket filter in the
// kernel passes TCP with the kernel mark and, with `states`, only those TCP
// states. Throws Error.
static void attach_filter(nfct_handle* handle, std::uint32_t mark,
                          const std::vector<std::uint16_t>& states) {
    nfct_filter* filter = nfct_filter_create();
    if (!filter) throw Error(os_error("cannot create a conntrack event filter"));
    nfct_filter_add_attr_u32(filter, NFCT_FILTER_L4PROTO, IPPROTO_TCP);
    for (const std::uint16_t state : states) {
        const nfct_filter_proto wanted{IPPROTO_TCP, state};
        nfct_filter_add_attr(filter, NFCT_FILTER_L4PROTO_STATE, &wanted);
    }
    const nfct_filter_dump_mark wanted{mark, 0xffffffffu};
    nfct_filter_add_attr(filter, NFCT_FILTER_MARK, &wanted);
    const int attached = nfct_filter_attach(nfct_fd(handle), filter);
    nfct_filter_destroy(filter);
    if (attached < 0) throw Error(os_error("cannot attach the conntrack event filter"));
}

ConntrackFlows::ConntrackFlows(boost::asio::io_context& io, std::uint32_t mark)
    : io_(io),
      mark_(mark),
      events_(nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE)),
      removals_(nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_DESTROY)),
      queries_(nfct_open(CONNTRACK, 0)),
      socket_(io),
      removal_socket_(io) {
    if (!events_ || !removals_ || !queries_)
        throw Error(os_error("cannot subscribe to conntrack events (ctnetlink)"));
    // A connection changes state about six times; the worker needs its
    // start (SYN_SENT, in the NEW event) and its end (TIME_WAIT: both FINs
    // passed; CLOSE: a reset), a third of the events. Its removal comes on
    // a socket of its own without a state filter: an entry removed in any
    // state (a flush, a timeout) ends its watch too.
    attach_filter(events_.get(), mark_,
                  {TCP_CONNTRACK_SYN_SENT, TCP_CONNTRACK_TIME_WAIT, TCP_CONNTRACK_CLOSE});
    attach_filter(removals_.get(), mark_, {});
    const std::pair<nfct_handle*, boost::asio::posix::stream_descriptor*> sockets[] = {
        {events_.get(), &socket_}, {removals_.get(), &removal_socket_}};
    for (const auto& [handle, socket] : sockets) {
        nfnl_rcvbufsiz(nfct_nfnlh(handle), kEventBuffer);
        nfct_callback_register(handle, NFCT_T_ALL, on_event, this);
        const int fd = nfct_fd(handle);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        socket->assign(fd);
    }
}

ConntrackFlows::~ConntrackFlows() {
    stopped_ = true;
    socket_.release();  // nfct_close() closes them
    removal_socket_.release();
}

void ConntrackFlows::start() {
    wait_for_events(socket_, events_.get());
    wait_for_events(removal_socket_, removals_.get());
}

// Every watch ends now, with the counters so far: a connection the kernel
// still forwards keeps going, the worker only stops following it.
void ConntrackFlows::stop() noexcept {
    stopped_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    removal_socket_.cancel(ignored);
    std::vector<Watch> ending;
    ending.swap(watches_);
    for (const Watch& w : ending) {
        FlowEvent end{
            FlowEvent::Kind::Ended, w.from_port, "still open when the worker stopped", {}};
        if (w.from_port) end.counters = counters(w.key, w.from_port);
        try {
            w.handler(end);
        } catch (const std::exception& e) {
            spdlog::error("conntrack: ending a watch: {}", e.what());
        }
    }
}

void ConntrackFlows::wait_for_events(boost::asio::posix::stream_descriptor& socket,
                                     nfct_handle* handle) {
    socket.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, &socket, handle](const boost::system::error_code& error) {
                          if (error || stopped_) return;
                          read_events(handle);
                          wait_for_events(socket, handle);
                      });
}

void ConntrackFlows::read_events(nfct_handle* handle) {
    // nfct_catch() reads until the socket is empty (EAGAIN: non-blocking).
    for (int round = 0; round < 64; ++round) {
        if (nfct_catch(handle) >= 0) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == ENOBUFS) {
            if (lost_events_++ == 0)
                spdlog::warn(
                    "conntrack: events lost (the socket's buffer overflowed); the kernel data "
                    "connections they were about end without their counters");
            continue;
        }
        spdlog::error("conntrack: reading events: {}", std::strerror(errno));
        return;
    }
}

ConntrackFlows::Watch* ConntrackFlows::find(const FlowKey& key, std::uint16_t from_port) {
    for (Watch& w : watches_)
        if (w.from_port == from_port && same(w.key, key)) return &w;
    return nullptr;
}

// NEW starts the watch that waits for this key; TIME_WAIT (both FINs
// passed), CLOSE (a reset) or the entry's removal end it. The end's
// counters come with a removal; otherwise they are asked for at once.
void ConntrackFlows::seen(const Seen& flow) {
    Watch* watch = find(flow.key, flow.from_port);
    if (!watch && flow.type != NFCT_T_DESTROY) {
        watch = find(flow.key, 0);  // its first event (NEW, or an UPDATE if NEW was lost)
        if (watch) {
            watch->from_port = flow.from_port;
            const Handler handler = watch->handler;
            handler(FlowEvent{FlowEvent::Kind::Started, flow.from_port, {}, {}});
            watch = find(flow.key, flow.from_port);  // the handler may have unwatched
        }
    }
    if (!watch) return;
    FlowEvent end{FlowEvent::Kind::Ended, flow.from_port, {}, flow.counters};
    if (flow.type == NFCT_T_DESTROY)
        end.ending = "gone";
    else if (flow.tcp_state == TCP_CONNTRACK_TIME_WAIT)
        end.ending = "closed";
    else if (flow.tcp_state == TCP_CONNTRACK_CLOSE)
        end.ending = "reset";
    else
        return;
    if (!end.counters.known) end.counters = counters(flow.key, flow.from_port);
    const Handler handler = watch->handler;
    unwatch(watch->id);
    handler(end);
}

std::uint64_t ConntrackFlows::watch(const FlowKey& key, Handler handler) {
    const std::uint64_t id = next_id_++;
    watches_.push_back({id, key, 0, std::move(handler)});
    return id;
}

void ConntrackFlows::unwatch(std::uint64_t id) noexcept {
    watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                  [id](const Watch& w) { return w.id == id; }),
                   watches_.end());
}

FlowCounters ConntrackFlows::counters(const FlowKey& key, std::uint16_t from_port) noexcept {
    FlowCounters found;
    nf_conntrack* ct = nfct_new();
    if (!ct) return found;
    const Address from = common::canonical(key.from), to = common::canonical(key.to);
    if (from.is_v4()) {
        nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
        nfct_set_attr_u32(ct, ATTR_IPV4_SRC, htonl(from.to_v4().to_uint()));
        nfct_set_attr_u32(ct, ATTR_IPV4_DST, htonl(to.to_v4().to_uint()));
    } else {
        nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET6);
        const auto a = from.to_v6().to_bytes(), b = to.to_v6().to_bytes();
        nfct_set_attr(ct, ATTR_IPV6_SRC, a.data());
        nfct_set_attr(ct, ATTR_IPV6_DST, b.data());
    }
    nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
    nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(from_port));
    nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(key.port));
    nfct_callback_register(queries_.get(), NFCT_T_ALL, on_reply, &found);
    if (nfct_query(queries_.get(), NFCT_Q_GET, ct) < 0 && errno != ENOENT)
        spdlog::debug("conntrack: cannot read a data connection's counters: {}",
                      std::strerror(errno));
    nfct_callback_unregister(queries_.get());
    nfct_destroy(ct);
    return found;
}

}  // namespace firewall
