// Forward mode's data connections: where listeners are bound, what the
// client is told, and the firewall expectations that bring the client's or
// server's connection to them (see firewall/firewall.hpp for the model).
#include <spdlog/spdlog.h>

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
// client must come to the proxy's address directly.
asio::ip::address Session::announced_address() const {
    if (settings_.forward && settings_.firewall) return server_endpoint_.address();
    return client_local_.address();
}

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
    try {
        settings_.firewall->clear_session(id_);
        settings_.firewall->expect_passive(expectation);
    } catch (const firewall::Error& e) {
        spdlog::error("{} {}: cannot add the data connection rule: {}", tag_,
                      settings_.firewall->name(), e.what());
        return false;
    }
    return true;
}

bool Session::expect_server_connection(const tcp::endpoint& ours) {
    if (!settings_.forward || !settings_.firewall) return true;
    firewall::ActiveExpectation expectation;
    expectation.session = id_;
    expectation.server = server_endpoint_.address();
    expectation.proxy = ours.address();
    expectation.port = ours.port();
    expectation.timeout = settings_.data_timeout;
    try {
        settings_.firewall->clear_session(id_);
        settings_.firewall->expect_active(expectation);
    } catch (const firewall::Error& e) {
        spdlog::error("{} {}: cannot add the data connection rule: {}", tag_,
                      settings_.firewall->name(), e.what());
        return false;
    }
    return true;
}

}  // namespace proxy
