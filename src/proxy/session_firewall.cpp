// Forward mode's firewall state for data connections: where listeners are
// bound, what the client is told, and the expectations that bring the
// client's or server's connection to them (see firewall/firewall.hpp for the
// model). The firewall's answer is awaited: with pf it comes from another
// process, and the worker's other sessions go on meanwhile.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {

// Asks the firewall (`ask` passes it the completion) and waits for its
// answer, which may come before `ask` returns or much later; a refusal is
// logged here and answered 425 by the caller.
awaitable<bool> Session::firewall_agrees(std::function<void(firewall::Done)> ask) {
    auto executor = io_.get_executor();
    std::string error =
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::string)>(
            [&ask, executor](auto handler) {
                // std::function needs a copyable callable; the handler is not.
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                ask([shared, executor](std::string outcome) {
                    asio::post(executor, [shared, outcome = std::move(outcome)]() mutable {
                        (*shared)(std::move(outcome));
                    });
                });
            },
            use_awaitable);
    if (error.empty()) co_return true;
    spdlog::error("{} {}: cannot add the data connection rule: {}", tag_,
                  settings_.firewall->name(), error);
    co_return false;
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

awaitable<bool> Session::expect_client_connection(std::uint16_t port) {
    if (!settings_.forward || !settings_.firewall) co_return true;
    firewall::PassiveExpectation expectation;
    expectation.session = id_;
    expectation.client = client_peer_.address();
    expectation.server = server_endpoint_.address();
    expectation.port = port;
    expectation.proxy = client_local_.address();
    expectation.local_port = port;
    expectation.timeout = settings_.data_timeout;
    co_return co_await firewall_agrees(
        [&](firewall::Done done) { settings_.firewall->expect_passive(expectation, done); });
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

awaitable<bool> Session::expect_server_connection(tcp::endpoint ours, tcp::endpoint source,
                                                  tcp::endpoint client_data) {
    if (!settings_.forward || !settings_.firewall) co_return true;
    firewall::ActiveExpectation expectation;
    expectation.session = id_;
    expectation.server = server_endpoint_.address();
    expectation.proxy = ours.address();
    expectation.port = ours.port();
    expectation.timeout = settings_.data_timeout;
    expectation.onward = leg_to_client(source, client_data);
    co_return co_await firewall_agrees(
        [&](firewall::Done done) { settings_.firewall->expect_active(expectation, done); });
}

// --passive-to-server: nothing comes in, but the connection to the client
// must carry the server's address all the same.
awaitable<bool> Session::expect_onward_leg(tcp::endpoint source, tcp::endpoint client_data) {
    if (!settings_.forward || !settings_.firewall) co_return true;
    const firewall::OnwardExpectation expectation{id_, leg_to_client(source, client_data),
                                                  settings_.data_timeout};
    co_return co_await firewall_agrees(
        [&](firewall::Done done) { settings_.firewall->expect_onward(expectation, done); });
}

}  // namespace proxy
