// Data channels as the dialogue asks for them: made, kept by id, and in
// forward mode where listeners are bound, what the client is told, and the
// firewall expectations that bring the client's or server's connection to
// them (see firewall/firewall.hpp for the model).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <string>

#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {

// Client PASV/EPSV, once the server's passive reply named its data port.
void Session::open_passive(const ftp::action::OpenPassive& request, ftp::Actions& batch) {
    error_code error;
    auto listener = listen_on(io_, client_listen_address(), settings_.passive_ports, error);
    if (error) {
        spdlog::error("{} cannot listen for the client's data connection: {}", tag_,
                      error.message());
        dialogue_->passive_refused(error.message(), batch);
        return;
    }
    auto channel = DataChannel::create(
        io_, tag_, activity_, DataEnd::accept(std::move(listener), client_peer_.address()),
        DataEnd::connect(request.server_data, tcp::endpoint{server_local_.address(), 0}),
        settings_.data_timeout, settings_.relay);
    const auto port = channel->client_listen_port();
    if (!expect_client_connection(port)) {
        channel->close();
        dialogue_->passive_refused("the firewall refused the rule", batch);
        return;
    }
    adopt(request.channel, channel);
    dialogue_->passive_opened({announced_address(), port}, batch);
}

// Client PORT/EPRT: the server is to connect to a listener of ours.
void Session::open_active(const ftp::action::OpenActive& request, ftp::Actions& batch) {
    const tcp::endpoint source = active_source();
    error_code error;
    auto listener = listen_on(io_, server_local_.address(), settings_.passive_ports, error);
    if (error) {
        spdlog::error("{} cannot listen for the server's data connection: {}", tag_,
                      error.message());
        dialogue_->active_refused(error.message(), batch);
        return;
    }
    auto channel =
        DataChannel::create(io_, tag_, activity_, DataEnd::connect(request.client_data, source),
                            DataEnd::accept(std::move(listener), server_endpoint_.address()),
                            settings_.data_timeout, settings_.relay);
    const auto ours = channel->server_listen_endpoint();
    if (!expect_server_connection(ours, source, request.client_data)) {
        channel->close();
        dialogue_->active_refused("the firewall refused the rule", batch);
        return;
    }
    adopt(request.channel, channel);
    dialogue_->active_opened(ours, batch);
}

// Client PORT/EPRT under --passive-to-server: nothing to open yet, the
// firewall state for the connection to the client only.
void Session::expect_client_leg(const ftp::action::ExpectClientLeg& request, ftp::Actions& batch) {
    if (expect_onward_leg(active_source(), request.client_data))
        dialogue_->client_leg_ready(batch);
    else
        dialogue_->active_refused("the firewall refused the rule", batch);
}

void Session::connect_both(const ftp::action::ConnectBoth& request) {
    adopt(request.channel,
          DataChannel::create(
              io_, tag_, activity_, DataEnd::connect(request.client_data, active_source()),
              DataEnd::connect(request.server_data, tcp::endpoint{server_local_.address(), 0}),
              settings_.data_timeout, settings_.relay));
}

void Session::adopt(ftp::ChannelId id, std::shared_ptr<DataChannel> channel) {
    if (settings_.firewall)
        channel->on_accepted([firewall = settings_.firewall, id = id_] {
            firewall->connection_arrived(id);  // the one expected connection came
        });
    channel->start();
    channels_.emplace_back(id, std::move(channel));
}

std::shared_ptr<DataChannel> Session::find_channel(ftp::ChannelId id) const {
    for (const auto& [known, channel] : channels_)
        if (known == id) return channel;
    return nullptr;
}

std::shared_ptr<DataChannel> Session::take_channel(ftp::ChannelId id) {
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

// A redirected data connection arrives on the address of the interface it
// came in on (nftables `redirect`), which the worker cannot know in advance:
// in forward mode the listener takes any address of the client's family and
// relies on the port-theft check for who may connect.
asio::ip::address Session::client_listen_address() const {
    if (!settings_.forward) return client_local_.address();
    if (client_local_.address().is_v4()) return asio::ip::address_v4::any();
    return asio::ip::address_v6::any();
}

// With a firewall backend the client is told the server's own address, so
// clients that honour the 227 address and clients that ignore it dial the
// same SERVER:PORT, which the firewall sends to us. Without one, the
// client must come to the proxy's address directly: in forward mode the
// firewall's address toward the client, because the control connection's
// local address may be 127.0.0.1 (dnat) or the server's (--tproxy).
asio::ip::address Session::announced_address() const {
    if (settings_.forward && settings_.firewall) return server_endpoint_.address();
    if (!settings_.forward) return client_local_.address();
    error_code error;
    auto address = source_toward(io_, client_peer_.address(), error);
    return error ? client_local_.address() : address;
}

namespace {

// The session's previous negotiation goes, then `add` installs this one; a
// refusal is logged and answered 425 by the caller.
bool install(firewall::Backend& firewall, std::uint64_t session, const std::string& tag,
             const std::function<void()>& add) {
    try {
        firewall.clear_session(session);
        add();
    } catch (const firewall::Error& e) {
        spdlog::error("{} {}: cannot add the data connection rule: {}", tag, firewall.name(),
                      e.what());
        return false;
    }
    return true;
}

}  // namespace

bool Session::expect_client_connection(std::uint16_t port) {
    if (!settings_.forward || !settings_.firewall) return true;
    firewall::PassiveExpectation expectation;
    expectation.session = id_;
    expectation.client = client_peer_.address();
    expectation.server = server_endpoint_.address();
    expectation.port = port;
    expectation.proxy = client_local_.address();
    expectation.local_port = port;
    expectation.timeout = settings_.data_timeout;
    return install(*settings_.firewall, id_, tag_,
                   [&] { settings_.firewall->expect_passive(expectation); });
}

// The proxy's own connection to the client (from `source`, its address
// toward the client) leaves with the server's address, as the reference's
// nat-to: the client sees its data connection come from the server it
// dialled, and clients that check that accept it.
firewall::OnwardLeg Session::leg_to_client(const tcp::endpoint& source,
                                           const tcp::endpoint& client_data) const {
    return {source.address(), client_data.address(), client_data.port(), server_endpoint_.address(),
            source.port()};
}

bool Session::expect_server_connection(const tcp::endpoint& ours, const tcp::endpoint& source,
                                       const tcp::endpoint& client_data) {
    if (!settings_.forward || !settings_.firewall) return true;
    firewall::ActiveExpectation expectation;
    expectation.session = id_;
    expectation.server = server_endpoint_.address();
    expectation.proxy = ours.address();
    expectation.port = ours.port();
    expectation.timeout = settings_.data_timeout;
    expectation.onward = leg_to_client(source, client_data);
    return install(*settings_.firewall, id_, tag_,
                   [&] { settings_.firewall->expect_active(expectation); });
}

// --passive-to-server: nothing comes in, but the connection to the client
// must carry the server's address all the same.
bool Session::expect_onward_leg(const tcp::endpoint& source, const tcp::endpoint& client_data) {
    if (!settings_.forward || !settings_.firewall) return true;
    const firewall::OnwardExpectation expectation{id_, leg_to_client(source, client_data),
                                                  settings_.data_timeout};
    return install(*settings_.firewall, id_, tag_,
                   [&] { settings_.firewall->expect_onward(expectation); });
}

}  // namespace proxy
