// The kernel data path's side of a session (--data-path kernel): instead of
// a listener and a relay, a reserved port, one connection the firewall
// translates (firewall::KernelForwarding), and a KernelChannel that follows
// it. A data connection the kernel cannot carry is relayed as before, and
// the log says why.
#include <spdlog/spdlog.h>

#include <string>

#include "proxy/kernel_channel.hpp"
#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {

// Null when the kernel may forward this data connection; else why not.
const char* Session::kernel_refusal(bool client_tls, bool server_tls) const {
    if (!settings_.kernel_flows) return "";
    // The kernel forwards packets; it cannot be a TLS endpoint.
    if (client_tls) return "the client's data connection is TLS (PROT P)";
    if (server_tls) return "the server's data connection is TLS (--server-tls)";
    return nullptr;
}

// Logs why a data connection of a kernel-path worker is relayed.
void Session::log_relayed_instead(const char* why) const {
    if (why && *why) spdlog::info("{} data path relay for this data connection: {}", tag_, why);
}

// The firewall's one translated connection, then the channel that follows
// it (adopted only when the firewall agreed and the session goes on).
awaitable<bool> Session::forward_in_kernel(ftp::ChannelId id, ftp::DataMode mode,
                                           tcp::acceptor reservation,
                                           firewall::KernelForwarding forwarding,
                                           bool client_originates) {
#ifndef FTPPROXY_HAVE_CONNTRACK
    // Not reached: without conntrack a worker refuses --data-path kernel at
    // start, so kernel_flows is null and every data connection is relayed.
    (void)id, (void)mode, (void)reservation, (void)forwarding, (void)client_originates;
    co_return false;
#else
    forwarding.session = id_;
    forwarding.timeout = settings_.data_timeout;
    const bool allowed = co_await firewall_agrees(
        [&](firewall::Done done) { settings_.firewall->forward_in_kernel(forwarding, done); });
    if (!allowed || ended_) co_return false;
    adopt(
        id, mode,
        KernelChannel::create(io_, tag_, activity_, *settings_.kernel_flows, std::move(reservation),
                              {forwarding.from, forwarding.proxy, forwarding.port},
                              client_originates, settings_.data_timeout));
    co_return true;
#endif
}

// Reverse mode: the client dials a port of the proxy's own (reserved here),
// translated to the server's passive port. Forward mode: the client dials
// the server's port itself, at the control connection's address (where
// clients that ignore the 227 address go); the translation is to the
// address the server named. Either way the server sees the proxy's address.
awaitable<void> Session::open_passive_in_kernel(ftp::action::OpenPassive request,
                                                ftp::Actions& batch) {
    error_code error;
    tcp::acceptor reservation(io_);
    std::uint16_t port = request.server_data.port();
    if (!settings_.forward) {
        reservation = reserve_port(io_, client_local_.address(), settings_.passive_ports, error);
        if (!error) port = reservation.local_endpoint(error).port();
    }
    if (error) {
        spdlog::error("{} cannot reserve a port for the client's data connection: {}", tag_,
                      error.message());
        dialogue_->passive_refused(error.message(), batch);
        co_return;
    }
    const asio::ip::address dialled =
        settings_.forward ? server_endpoint_.address() : client_local_.address();
    firewall::KernelForwarding forwarding;
    forwarding.from = client_peer_.address();
    forwarding.proxy = dialled;
    forwarding.port = port;
    forwarding.to = request.server_data.address();
    forwarding.to_port = request.server_data.port();
    forwarding.source = server_local_.address();  // the server sees the proxy, as relayed
    const bool forwarded = co_await forward_in_kernel(request.channel, request.mode,
                                                      std::move(reservation), forwarding, true);
    if (ended_) co_return;
    if (!forwarded) {
        dialogue_->passive_refused("the firewall refused the rule", batch);
        co_return;
    }
    dialogue_->passive_opened({dialled, port}, batch);
}

// The server connects to a reserved port of the proxy, translated to the
// client's PORT address. The client sees it come from the address it
// dialled: the proxy's in reverse mode, the server's in forward mode (as
// the relay's nat-to does).
awaitable<void> Session::open_active_in_kernel(ftp::action::OpenActive request,
                                               ftp::Actions& batch) {
    tcp::endpoint source = active_source();
    if (settings_.forward) source.address(server_endpoint_.address());
    error_code error;
    auto reservation = reserve_port(io_, server_local_.address(), settings_.passive_ports, error);
    tcp::endpoint ours;
    if (!error) ours = reservation.local_endpoint(error);
    if (error) {
        spdlog::error("{} cannot reserve a port for the server's data connection: {}", tag_,
                      error.message());
        dialogue_->active_refused(error.message(), batch);
        co_return;
    }
    firewall::KernelForwarding forwarding;
    forwarding.from = server_endpoint_.address();
    forwarding.proxy = ours.address();
    forwarding.port = ours.port();
    forwarding.to = request.client_data.address();
    forwarding.to_port = request.client_data.port();
    forwarding.source = source.address();    // the address the client dialled
    forwarding.source_port = source.port();  // 20 with -r, else the server's own
    const bool forwarded = co_await forward_in_kernel(request.channel, request.mode,
                                                      std::move(reservation), forwarding, false);
    if (ended_) co_return;
    if (!forwarded) {
        dialogue_->active_refused("the firewall refused the rule", batch);
        co_return;
    }
    dialogue_->active_opened(ours, batch);
}

}  // namespace proxy
