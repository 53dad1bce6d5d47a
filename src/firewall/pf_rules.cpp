#include "firewall/pf_rules.hpp"

#include <regex>

#include "common/net_address.hpp"
#include "firewall/addresses.hpp"

namespace firewall::pf {
namespace {

std::string host(const Address& address) {
    if (address.is_unspecified()) return "self";  // any address of the firewall
    return common::canonical(address).to_string();
}

// One rule of the pair: everything filter.c's prepare_rule() sets, in pf.conf
// syntax. `direction` is "in" or "out"; `target` the rdr-to part, if any.
std::string rule(const RuleOptions& options, const char* direction, bool v4, const Address& from,
                 const Address& to, std::uint16_t port, const std::string& target) {
    std::string text = options.tag ? "match " : "pass ";
    text += direction;
    if (options.log == 1) text += " log";
    if (options.log >= 2) text += " log (all)";
    if (!options.tag) text += " quick";  // with -T the user's tagged rules decide
    text += v4 ? " inet" : " inet6";
    text += " proto tcp from " + host(from) + " to " + host(to) + " port " + std::to_string(port);
    text += " flags S/SA keep state (max 1)";
    if (options.queue) text += " queue " + *options.queue;
    if (options.tag) text += " tag " + *options.tag;
    text += target;
    return text + "\n";
}

}  // namespace

// The reference's `pass out … nat-to ORIGINAL_SERVER` for active mode: its
// own data connection to the client (here the proxy's) carries the
// server's address.
std::string onward_rule(const OnwardLeg& leg, const RuleOptions& options) {
    if (leg.port == 0) throw Error("onward leg without a port");
    const bool v4 = all_ipv4({leg.to, leg.from.is_unspecified() ? leg.to : leg.from});
    std::string target;
    if (leg.nat_to) {
        all_ipv4({leg.to, *leg.nat_to});
        target = " nat-to " + host(*leg.nat_to);
        if (leg.nat_port != 0) target += " port " + std::to_string(leg.nat_port);
    }
    return rule(options, "out", v4, leg.from, leg.to, leg.port, target);
}

std::string anchor_name(pid_t pid, std::uint64_t session) {
    return std::string(kAnchorParent) + "/" + std::to_string(pid) + "." + std::to_string(session);
}

std::vector<AnchorOwner> session_anchors(const std::string& listing) {
    static const std::regex pattern(std::string(kAnchorParent) + R"(/([0-9]{1,9})\.[0-9]{1,20})");
    std::vector<AnchorOwner> found;
    for (std::sregex_iterator it(listing.begin(), listing.end(), pattern), end; it != end; ++it)
        found.push_back({it->str(), static_cast<pid_t>(std::stol((*it)[1].str()))});
    return found;
}

std::string passive_rules(const PassiveExpectation& e, const RuleOptions& options) {
    if (e.port == 0 || e.local_port == 0) throw Error("passive expectation without a port");
    const bool v4 = all_ipv4({e.client, e.server});
    // After divert-to of the control connection the proxy's local address is
    // the server's own; the listener then is reached on loopback.
    Address proxy = common::canonical(e.proxy);
    if (proxy.is_unspecified() || proxy == common::canonical(e.server))
        proxy = v4 ? Address(boost::asio::ip::address_v4::loopback())
                   : Address(boost::asio::ip::address_v6::loopback());
    all_ipv4({e.client, proxy});
    std::string text = rule(options, "in", v4, e.client, e.server, e.port,
                            " rdr-to " + host(proxy) + " port " + std::to_string(e.local_port));
    return text;
}

std::string active_rules(const ActiveExpectation& e, const RuleOptions& options) {
    if (e.port == 0) throw Error("active expectation without a port");
    const bool v4 = all_ipv4({e.server, e.proxy});
    std::string text = rule(options, "in", v4, e.server, e.proxy, e.port, "");
    if (e.onward) text += onward_rule(*e.onward, options);
    return text;
}

}  // namespace firewall::pf
