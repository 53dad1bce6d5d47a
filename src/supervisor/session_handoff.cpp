#include "supervisor/session_handoff.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <fstream>
#include <map>
#include <memory>

#ifdef FTPPROXY_HAVE_NFTABLES
#include <nftables/libnftables.h>
#endif

#include "supervisor/run_command.hpp"

namespace supervisor {

namespace {

using nlohmann::json;

// The LAN address may come up after ftpproxyd (boot order).
constexpr std::chrono::seconds kRetryDelay{5};
constexpr std::chrono::seconds kCommandTimeout{10};
// `ip rule del pref N` removes one rule: leftovers of earlier runs are few.
constexpr int kMaxStaleRules = 4;

std::vector<handoff::LocalAddress> local_addresses() {
    std::vector<handoff::LocalAddress> addresses;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return addresses;
    const std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owner(list, freeifaddrs);
    for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr || entry->ifa_netmask == nullptr) continue;
        unsigned prefix = 0;
        common::IpAddress address;
        if (entry->ifa_addr->sa_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
            const auto* mask = reinterpret_cast<const sockaddr_in*>(entry->ifa_netmask);
            address = boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
            prefix = static_cast<unsigned>(std::popcount(mask->sin_addr.s_addr));
        } else if (entry->ifa_addr->sa_family == AF_INET6) {
            const auto* in = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
            const auto* mask = reinterpret_cast<const sockaddr_in6*>(entry->ifa_netmask);
            boost::asio::ip::address_v6::bytes_type bytes;
            std::copy(std::begin(in->sin6_addr.s6_addr), std::end(in->sin6_addr.s6_addr),
                      bytes.begin());
            address = boost::asio::ip::address_v6(bytes);
            for (const unsigned char byte : mask->sin6_addr.s6_addr)
                prefix += static_cast<unsigned>(std::popcount(byte));
        } else {
            continue;
        }
        addresses.push_back({entry->ifa_name, address, prefix});
    }
    return addresses;
}

// The reverse instances' listen addresses that can be shared (not a
// wildcard, not loopback), with their ports.
std::vector<handoff::SharedAddress> shared_addresses(const config::Config& config) {
    std::map<common::IpAddress, std::vector<std::uint16_t>> ports;
    for (const auto& instance : config.instances) {
        const auto& address = instance.listen_address;
        if (instance.mode != config::Mode::reverse || address.is_unspecified() ||
            address.is_loopback())
            continue;
        auto& list = ports[address];
        if (std::find(list.begin(), list.end(), instance.listen_port) == list.end())
            list.push_back(instance.listen_port);
    }
    std::vector<handoff::SharedAddress> shared;
    for (auto& [address, list] : ports) {
        std::sort(list.begin(), list.end());
        shared.push_back({address, list});
    }
    return shared;
}

bool same(const std::vector<handoff::SharedAddress>& a,
          const std::vector<handoff::SharedAddress>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.address == y.address && x.control_ports == y.control_ports;
    });
}

// "" or the first line of nft's error.
std::string run_nft(const std::string& script) {
#ifdef FTPPROXY_HAVE_NFTABLES
    const std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> context(nft_ctx_new(NFT_CTX_DEFAULT),
                                                                    nft_ctx_free);
    if (!context) return "cannot create a libnftables context";
    nft_ctx_buffer_output(context.get());
    nft_ctx_buffer_error(context.get());
    if (nft_run_cmd_from_buffer(context.get(), script.c_str()) == 0) return "";
    std::string error = nft_ctx_get_error_buffer(context.get());
    if (const auto end = error.find('\n'); end != std::string::npos) error.resize(end);
    return "nftables: " + error;
#else
    (void)script;
    return "this ftpproxyd was built without libnftables: the handoff needs Linux with nftables";
#endif
}

// Whether an earlier run (killed, or with the handoff on) left its tables.
bool leftovers() {
#ifdef FTPPROXY_HAVE_NFTABLES
    return run_nft("list table ip ftpproxy_handoff").empty() ||
           run_nft("list table ip6 ftpproxy_handoff").empty();
#else
    return false;
#endif
}

// Mid-stream segments must become conntrack's "new" connections on the
// holder (how it tells a peer's connection from one of its own): with
// nf_conntrack_tcp_loose=0 they are "invalid" instead.
std::string check_conntrack_loose() {
    std::ifstream sysctl("/proc/sys/net/netfilter/nf_conntrack_tcp_loose");
    int loose = 1;
    if (sysctl >> loose && loose == 0)
        return "net.netfilter.nf_conntrack_tcp_loose is 0: set it to 1 (the default), or the "
               "node that takes a VIP cannot tell the peer's connections from its own";
    return "";
}

}  // namespace

SessionHandoff::SessionHandoff(asio::io_context& io, ChildReaper& reaper)
    : io_(io), reaper_(reaper), retry_(io) {}

void SessionHandoff::configure(const config::Config& config) {
    auto vips = shared_addresses(config);
    if (configured_ && config.cluster.handoff_nodes == nodes_ && same(vips, vips_) &&
        (installed_ || !enabled()))
        return;
    configured_ = true;
    nodes_ = config.cluster.handoff_nodes;
    vips_ = std::move(vips);
    kick();
}

void SessionHandoff::kick() {
    if (removed_) return;
    retry_.cancel();
    if (settling_) {
        again_ = true;
        return;
    }
    settling_ = true;
    asio::co_spawn(io_, settle(), asio::detached);
}

awaitable<void> SessionHandoff::settle() {
    do {
        again_ = false;
        std::string error;
        if (!enabled()) {
            if (installed_) {
                co_await remove_all();
                spdlog::info("handoff: off (removed)");
            } else if (!checked_leftovers_ && leftovers()) {
                // A killed run's rules would go on passing packets to the peer.
                co_await remove_all();
                spdlog::warn("handoff: removed the rules an earlier run left (handoff is off)");
            }
            checked_leftovers_ = true;
            installed_ = false;
            plan_ = {};
        } else {
            handoff::Plan plan = handoff::make_plan(nodes_, vips_, local_addresses());
            // Not `cond ? co_await … : …`: g++ 12 frees a temporary of that twice.
            error = plan.error;
            if (error.empty()) error = co_await install(plan);
            if (error.empty()) {
                plan_ = std::move(plan);
                installed_ = true;
                for (const auto& route : plan_.routes)
                    spdlog::info("handoff: {}: the peer's sessions go to it", describe(route));
            } else {
                installed_ = false;
            }
        }
        if (!error.empty() && error != error_)
            spdlog::error("handoff: {}; retrying every {} s", error, kRetryDelay.count());
        error_ = error;
    } while (again_ && !removed_);
    settling_ = false;
    if (!error_.empty() && !removed_) {
        retry_.expires_after(kRetryDelay);
        retry_.async_wait([this](error_code error) {
            if (!error) kick();
        });
    }
}

awaitable<std::string> SessionHandoff::install(const handoff::Plan& plan) {
    for (const bool v4 : {true, false}) {
        for (int i = 0; i < kMaxStaleRules; ++i)
            co_await run_quietly(handoff::ip_remove_commands(v4).front());
    }
    for (auto& argv : handoff::ip_install_commands(plan)) {
        const CommandResult result = co_await run_command(reaper_, argv, kCommandTimeout);
        if (!result.ok) {
            co_return join_command(argv) + ": " + result.status +
                (result.output.empty() ? "" : " (" + result.output + ")");
        }
    }
    const std::string error =
        run_nft(handoff::nft_remove_script() + handoff::nft_script(plan, true) +
                handoff::nft_script(plan, false));
    if (!error.empty()) co_return error;
    co_return check_conntrack_loose();
}

awaitable<void> SessionHandoff::remove_all() {
    const std::string error = run_nft(handoff::nft_remove_script());
    if (!error.empty()) spdlog::warn("handoff: removing the tables: {}", error);
    for (const bool v4 : {true, false}) {
        for (auto& argv : handoff::ip_remove_commands(v4)) co_await run_quietly(argv);
    }
}

awaitable<void> SessionHandoff::remove() {
    removed_ = true;
    retry_.cancel();
    // An install under way finishes first (its commands are bounded).
    asio::steady_timer poll(io_);
    for (int i = 0; settling_ && i < 600; ++i) {
        poll.expires_after(std::chrono::milliseconds(50));
        error_code ignored;
        co_await poll.async_wait(with_error(ignored));
    }
    if (!enabled() && !installed_) co_return;
    co_await remove_all();
    installed_ = false;
    spdlog::info("handoff: rules removed");
}

awaitable<void> SessionHandoff::run_quietly(std::vector<std::string> argv) {
    co_await run_command(reaper_, std::move(argv), kCommandTimeout);
}

json SessionHandoff::to_json() const {
    if (!enabled()) return nullptr;
    json nodes = json::array();
    for (const auto& node : nodes_) nodes.push_back(node.to_string());
    json routes = json::array();
    for (const auto& route : plan_.routes) {
        routes.push_back({{"vip", route.vip.address.to_string()},
                          {"peer", route.peer.to_string()},
                          {"interface", route.interface}});
    }
    json self = json::array();
    for (const auto& address : plan_.self) self.push_back(address.to_string());
    return {{"nodes", nodes},
            {"self", self},
            {"routes", routes},
            {"installed", installed_},
            {"error", error_.empty() ? json(nullptr) : json(error_)}};
}

}  // namespace supervisor
