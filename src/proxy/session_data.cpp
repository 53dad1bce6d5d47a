// Data channels as the dialogue asks for them: listeners and connections
// made, the firewall asked (session_firewall.cpp), the channels kept by id.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <string>

#include "proxy/net.hpp"
#include "proxy/session.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {

// Client PASV/EPSV, once the server's passive reply named its data port.
awaitable<void> Session::open_passive(ftp::action::OpenPassive request, ftp::Actions& batch) {
    const char* not_in_kernel = kernel_refusal(request.client_tls, request.server_tls);
    if (!not_in_kernel) {
        co_await open_passive_in_kernel(std::move(request), batch);
        co_return;
    }
    log_relayed_instead(not_in_kernel);
    error_code error;
    auto listener =
        listen_on(io_, client_listen_address(), settings_.passive_ports, error, settings_.handoff);
    if (error) {
        spdlog::error("{} cannot listen for the client's data connection: {}", tag_,
                      error.message());
        dialogue_->passive_refused(error.message(), batch);
        co_return;
    }
    auto channel = DataChannel::create(
        io_, tag_, activity_, DataEnd::accept(std::move(listener), client_peer_.address()),
        DataEnd::connect(request.server_data, tcp::endpoint{server_local_.address(), 0}),
        settings_.data_timeout, settings_.relay, data_tls(request.client_tls, request.server_tls));
    const auto port = channel->client_listen_port();
    const bool allowed = co_await expect_client_connection(port);
    if (!allowed || ended_) {
        channel->close();
        if (!ended_) dialogue_->passive_refused("the firewall refused the rule", batch);
        co_return;
    }
    adopt(request.channel, request.mode, channel);
    dialogue_->passive_opened({announced_address(), port}, batch);
}

// Client PORT/EPRT: the server is to connect to a listener of ours.
awaitable<void> Session::open_active(ftp::action::OpenActive request, ftp::Actions& batch) {
    const char* not_in_kernel = kernel_refusal(request.client_tls, request.server_tls);
    if (!not_in_kernel) {
        co_await open_active_in_kernel(std::move(request), batch);
        co_return;
    }
    log_relayed_instead(not_in_kernel);
    const tcp::endpoint source = active_source();
    error_code error;
    auto listener = listen_on(io_, server_local_.address(), settings_.passive_ports, error);
    if (error) {
        spdlog::error("{} cannot listen for the server's data connection: {}", tag_,
                      error.message());
        dialogue_->active_refused(error.message(), batch);
        co_return;
    }
    auto channel = DataChannel::create(
        io_, tag_, activity_, DataEnd::connect(request.client_data, source, settings_.handoff),
        DataEnd::accept(std::move(listener), server_endpoint_.address()), settings_.data_timeout,
        settings_.relay, data_tls(request.client_tls, request.server_tls));
    const auto ours = channel->server_listen_endpoint();
    const bool allowed = co_await expect_server_connection(ours, source, request.client_data);
    if (!allowed || ended_) {
        channel->close();
        if (!ended_) dialogue_->active_refused("the firewall refused the rule", batch);
        co_return;
    }
    adopt(request.channel, request.mode, channel);
    dialogue_->active_opened(ours, batch);
}

// Client PORT/EPRT under --passive-to-server: nothing to open yet, the
// firewall state for the connection to the client only.
awaitable<void> Session::expect_client_leg(ftp::action::ExpectClientLeg request,
                                           ftp::Actions& batch) {
    const bool allowed = co_await expect_onward_leg(active_source(), request.client_data);
    if (ended_) co_return;
    if (allowed)
        dialogue_->client_leg_ready(batch);
    else
        dialogue_->active_refused("the firewall refused the rule", batch);
}

void Session::connect_both(const ftp::action::ConnectBoth& request) {
    // The proxy makes both connections: there is no connection to translate.
    if (settings_.kernel_flows)
        log_relayed_instead("--passive-to-server: the proxy connects to both sides");
    adopt(request.channel, request.mode,
          DataChannel::create(
              io_, tag_, activity_,
              DataEnd::connect(request.client_data, active_source(), settings_.handoff),
              DataEnd::connect(request.server_data, tcp::endpoint{server_local_.address(), 0}),
              settings_.data_timeout, settings_.relay,
              data_tls(request.client_tls, request.server_tls)),
          true);
}

// A data connection counts when it comes (a listener's peer connected, or
// the kernel saw it); the proxy's own connections to both sides
// (--passive-to-server) when they are made, which is at once.
void Session::adopt(ftp::ChannelId id, ftp::DataMode mode, std::shared_ptr<DataPath> channel,
                    bool connects_both) {
    const auto counter = static_cast<std::size_t>(mode);
    if (connects_both) ++metrics().data_connections[counter];
    channel->on_accepted([firewall = settings_.firewall, id = id_, counter] {
        ++metrics().data_connections[counter];
        if (firewall) firewall->connection_arrived(id);  // the one expected connection came
    });
    channel->start();
    channels_.emplace_back(id, std::move(channel));
}

std::shared_ptr<DataPath> Session::find_channel(ftp::ChannelId id) const {
    for (const auto& [known, channel] : channels_)
        if (known == id) return channel;
    return nullptr;
}

std::shared_ptr<DataPath> Session::take_channel(ftp::ChannelId id) {
    auto found = std::find_if(channels_.begin(), channels_.end(),
                              [id](const auto& entry) { return entry.first == id; });
    if (found == channels_.end()) return nullptr;
    auto channel = std::move(found->second);
    channels_.erase(found);
    return channel;
}

// Where active-mode data connections to the client come from, with port 20
// under -r. Reverse mode: the address the client reached us on, the one it
// dialled. Forward mode: the control connection's local address is not ours
// to use (127.0.0.1 after `dnat to 127.0.0.1`, which cannot reach the
// client; the server's own address under --tproxy), so the route toward the
// client chooses, named here because the firewall's source NAT to the
// server's address (expect_server_connection) is keyed on it.
tcp::endpoint Session::active_source() const {
    auto port = static_cast<std::uint16_t>(settings_.data_from_port_20 ? 20 : 0);
    if (!settings_.forward) return {client_local_.address(), port};
    error_code error;
    auto source = source_toward(io_, client_peer_.address(), error);
    if (!error) return {source, port};
    spdlog::warn("{} no route toward the client {}: {}", tag_, client_peer_.address().to_string(),
                 error.message());
    if (client_peer_.address().is_v4()) return {asio::ip::address_v4::any(), port};
    return {asio::ip::address_v6::any(), port};
}

}  // namespace proxy
