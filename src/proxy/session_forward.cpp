// Forward mode's data connections: where listeners are bound, what the
// client is told, and the firewall expectations that bring the client's or
// server's connection to them (see firewall/firewall.hpp for the model).
#include <spdlog/spdlog.h>

#include <functional>
#include <string>

#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {

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
bool Session::expect_client_leg(const tcp::endpoint& source, const tcp::endpoint& client_data) {
    if (!settings_.forward || !settings_.firewall) return true;
    const firewall::OnwardExpectation expectation{id_, leg_to_client(source, client_data),
                                                  settings_.data_timeout};
    return install(*settings_.firewall, id_, tag_,
                   [&] { settings_.firewall->expect_onward(expectation); });
}

}  // namespace proxy
