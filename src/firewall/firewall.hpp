// What a forward-mode worker asks of the firewall, behind one small
// interface (as OpenBSD's ftp-proxy keeps every ioctl behind filter.c):
// the session code never sees nft or pfctl.
//
// Model: the proxy announces the SERVER's address with a port of its own
// (227/229), so clients that honour the 227 address and clients that ignore
// it both dial SERVER:PORT. The firewall must send exactly that one
// connection, from that one client, to the proxy's listener, for a bounded
// time. For active mode, the server's connection to the proxy's own outside
// address must be let in, again exactly one, for a bounded time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

// clang-format off
#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
// clang-format on

namespace firewall {

using Address = boost::asio::ip::address;

// The worker's pf options (-q, -T, -v), rendered into pf rules; nftables
// ignores queue and tag and uses `log` for verbose.
struct RuleOptions {
    std::optional<std::string> queue;  // -q
    std::optional<std::string> tag;    // -T
    int log = 0;                       // -v count: 1 log, 2 log (all)
    // --data-path kernel: the conntrack mark of the connections the firewall
    // forwards for the worker (--kernel-mark); unset: no kernel data path.
    std::optional<std::uint32_t> kernel_mark;
};

// The proxy's own connection for the other leg of an active-mode relay: to
// the client's PORT address. pf renders it as the reference's `pass out`
// rule, for rulesets that block the firewall's own outbound traffic. An
// unspecified `from` means any address of the firewall. (The passive leg,
// the proxy's connection to the server's data port, gets no rule.)
//
// With `nat_to` the connection leaves with that source address instead of
// the firewall's: in forward mode's active data connection, the server's,
// so that the client sees its data connection come from the server it
// dialled (clients may refuse any other). pf adds the reference's `nat-to`
// to the rule; nftables maps FROM . TO . PORT to nat_to in its postrouting
// chain (snat), which needs `from` to be the connection's real source.
// Without nat_to, nftables leaves output alone.
struct OnwardLeg {
    Address from;
    Address to;
    std::uint16_t port = 0;
    std::optional<Address> nat_to;
    std::uint16_t nat_port = 0;  // the source port nat_to keeps (-r: 20); 0: any
};

// Client dials server:port (the address/port the proxy announced); the
// firewall redirects it to the proxy's listener on local_port.
struct PassiveExpectation {
    std::uint64_t session = 0;
    Address client;
    Address server;
    std::uint16_t port = 0;        // what the client dials
    Address proxy;                 // where the proxy listens (client side)
    std::uint16_t local_port = 0;  // the proxy's listener port
    std::chrono::seconds timeout{30};
};

// Server connects to proxy:port (our PORT/EPRT); the firewall lets exactly
// that in. `onward` is the proxy's connection to the client that follows.
struct ActiveExpectation {
    std::uint64_t session = 0;
    Address server;
    Address proxy;
    std::uint16_t port = 0;
    std::chrono::seconds timeout{30};
    std::optional<OnwardLeg> onward;  // see OnwardLeg
};

// --passive-to-server with an active client: the proxy connects to both
// sides, so no connection is let in; only the proxy's connection to the
// client needs its onward leg (nat_to: the server's address).
struct OnwardExpectation {
    std::uint64_t session = 0;
    OnwardLeg leg;
    std::chrono::seconds timeout{30};
};

// The kernel data path (--data-path kernel, issue 13): the firewall itself
// forwards one data connection, as pf does for OpenBSD's ftp-proxy, and the
// worker relays nothing. The one connection from `from` to proxy:port (the
// address and port the worker announced or sent) is translated to to:to_port
// and leaves with the source address `source` (and source_port, 0: the
// connection's own), marked with the backend's kernel mark so that the
// operator's filter can pass it and the worker can follow it in conntrack.
// The first packet uses the expectation up: a second connection finds none.
struct KernelForwarding {
    std::uint64_t session = 0;
    Address from;
    Address proxy;
    std::uint16_t port = 0;
    Address to;
    std::uint16_t to_port = 0;
    Address source;
    std::uint16_t source_port = 0;
    std::chrono::seconds timeout{30};
};

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// How an expectation came out: called once with an empty string when it is
// in place, or with why not (the session answers the client 425). Called
// either before expect_*() returns (nftables, none: one netlink round trip)
// or later, on the worker's io_context (pf: pfctl runs in another process),
// so the caller must accept both.
using Done = std::function<void(std::string error)>;

// For backends whose work is done before the call returns: runs `work`,
// then tells `done` how it went (an Error's message, or success).
void settle(const Done& done, const std::function<void()>& work);

class Backend {
  public:
    virtual ~Backend() = default;
    // Creates the backend's own table/anchor; removes stale state left by
    // workers of the same instance whose process is gone (a crash), never a
    // live one's (an old worker draining during a reload). Throws Error: it
    // runs once, at start, where an error ends the worker.
    virtual void init() = 0;
    // Never throw; the outcome goes to `done`. A session has one
    // expectation at a time: a new one replaces what the session had (pf
    // replaces the session's anchor; nftables removes the session's elements
    // in the same transaction). Changes for one session take effect in the
    // order they were asked for; other sessions' go on meanwhile. Addresses
    // of one call must share a family (IPv4-mapped IPv6 counts as IPv4).
    virtual void expect_passive(const PassiveExpectation& expectation, Done done) = 0;
    virtual void expect_active(const ActiveExpectation& expectation, Done done) = 0;
    virtual void expect_onward(const OnwardExpectation& expectation, Done done) = 0;
    // The kernel data path; a backend without it refuses (the worker checks
    // kernel_forwarding() at start, so this is a second line of defence).
    virtual void forward_in_kernel(const KernelForwarding& forwarding, Done done) {
        (void)forwarding;
        done(name() + " cannot forward data connections in the kernel");
    }
    // Whether forward_in_kernel() works with this backend.
    virtual bool kernel_forwarding() const { return false; }
    // The expected connection arrived: remove what lets it in. The onward
    // leg's state stays (its nat_to must still apply: the proxy makes that
    // connection right after the arrival) until clear_session() or the next
    // negotiation, or (nftables) its timeout. Never throws.
    virtual void connection_arrived(std::uint64_t session) noexcept = 0;
    // The negotiation failed or was replaced, or the session ended: remove
    // everything expect_*() added for this session. Never throws.
    virtual void clear_session(std::uint64_t session) noexcept = 0;
    // Removes everything the backend created (worker exit, after the
    // io_context stopped: waits for what is still under way). Never throws.
    virtual void shutdown() noexcept = 0;
    // A human-readable name for logs: "nftables", "pf", "none".
    virtual std::string name() const = 0;
};

// "none" (reverse mode, or a firewall managed by hand), "nftables", "pf".
// instance: distinguishes workers (the pf anchor is ftp-proxy/<pid>.<session>,
// the nftables table `inet ftpproxy_<instance>_<pid>`). Throws Error for an
// unknown name or a backend that cannot work on this system (pf without an
// executable pfctl: /sbin/pfctl, or $FTPPROXY_PFCTL).
// io: the worker's; pf's privileged helper answers through it.
std::unique_ptr<Backend> make_backend(const std::string& name, const RuleOptions& options,
                                      const std::string& instance, boost::asio::io_context& io);

}  // namespace firewall
