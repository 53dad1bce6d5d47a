// Proof that the nftables expectation does what forward mode needs: a client
// in its own namespace dials SERVER:PORT through the firewall namespace and
// lands on the proxy's listener only while the element exists, and only
// from the expected client address. The firewall does not forward, so
// nothing reaches a listener by any other path.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "common/unique_fd.hpp"
#include "firewall/nftables_backend.hpp"
#include "netns.hpp"
#include "outcome.hpp"

namespace firewall {
namespace {

using boost::asio::ip::make_address;
using common::UniqueFd;
using test::InNetns;
using test::Netns;

// SO_ORIGINAL_DST and IP6T_SO_ORIGINAL_DST; their linux/ headers clash with
// glibc's net/if.h, which Asio includes.
constexpr int kOriginalDst = 80;

constexpr std::uint16_t kPort = 50001;  // announced and listened on, as the worker does
constexpr int kNegativeWaitMs = 500;    // a refused SYN just goes unanswered

struct Family {
    const char* name;
    const char* client;        // the expected client
    const char* other_client;  // same host, another address: must not pass
    const char* server;        // routed towards the firewall, which does not forward
};
void PrintTo(const Family& family, std::ostream* out) {
    *out << family.name;
}

constexpr Family kIpv4{"IPv4", "198.18.0.2", "198.18.0.3", "198.19.0.80"};
constexpr Family kIpv6{"IPv6", "fd18::2", "fd18::3", "fd18:1::80"};

sockaddr_storage endpoint(const std::string& address, std::uint16_t port, socklen_t& length) {
    sockaddr_storage storage{};
    if (address.find(':') == std::string::npos) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        ::inet_pton(AF_INET, address.c_str(), &in->sin_addr);
        length = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        ::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr);
        length = sizeof(sockaddr_in6);
    }
    return storage;
}

std::string address_of(const sockaddr_storage& storage) {
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage).sin_addr, text,
                    sizeof text);
    else
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr, text,
                    sizeof text);
    return text;
}

// The proxy's listener: any address of the family, as the worker binds it.
UniqueFd listener(bool v6) {
    UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (v6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    socklen_t length = 0;
    const sockaddr_storage any = endpoint(v6 ? "::" : "0.0.0.0", kPort, length);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&any), length) != 0 ||
        ::listen(fd.get(), 8) != 0)
        fd.reset();
    return fd;
}

class NftablesRedirect : public ::testing::TestWithParam<Family> {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces and nftables";
        firewall_ = std::make_unique<Netns>("ftpx-fw");
        client_ = std::make_unique<Netns>("ftpx-fwc");
        ASSERT_EQ(0, test::shell("ip link add c0 netns " + client_->name() +
                                 " type veth peer name f0 netns " + firewall_->name()));
        ASSERT_EQ(0, firewall_->run("ip link set f0 up && ip addr add 198.18.0.1/24 dev f0 && "
                                    "ip addr add fd18::1/64 dev f0 nodad"));
        ASSERT_EQ(0, client_->run(
                         "ip link set c0 up && ip addr add 198.18.0.2/24 dev c0 && "
                         "ip addr add 198.18.0.3/24 dev c0 && ip addr add fd18::2/64 dev c0 nodad "
                         "&& ip addr add fd18::3/64 dev c0 nodad && "
                         "ip route add default via 198.18.0.1 && "
                         "ip -6 route add default via fd18::1"));
        inside_ = std::make_unique<InNetns>(*firewall_);
        backend_ = std::make_unique<NftablesBackend>(RuleOptions{}, "predirect");
        backend_->init();
    }
    void TearDown() override {
        backend_.reset();
        inside_.reset();
        client_.reset();
        firewall_.reset();
    }

    // Dials SERVER:kPort from `source` in the client namespace.
    bool client_connects(const std::string& source) {
        UniqueFd fd;
        {
            InNetns in_client(*client_);
            fd.reset(::socket(source.find(':') == std::string::npos ? AF_INET : AF_INET6,
                              SOCK_STREAM | SOCK_NONBLOCK, 0));
        }
        socklen_t length = 0;
        const sockaddr_storage from = endpoint(source, 0, length);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), length) != 0) return false;
        const sockaddr_storage to = endpoint(GetParam().server, kPort, length);
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), length);
        pollfd waiting{fd.get(), POLLOUT, 0};
        if (::poll(&waiting, 1, kNegativeWaitMs) != 1) return false;
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
        return error == 0;
    }

    // The peer and original destination of a connection the listener took.
    struct Accepted {
        std::string peer;
        std::string original_destination;
        std::uint16_t original_port = 0;
    };
    std::optional<Accepted> accepted(int listening) {
        pollfd waiting{listening, POLLIN, 0};
        if (::poll(&waiting, 1, 2000) != 1) return std::nullopt;
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        UniqueFd fd(::accept(listening, reinterpret_cast<sockaddr*>(&peer), &length));
        if (!fd) return std::nullopt;
        sockaddr_storage original{};
        length = sizeof original;
        if (peer.ss_family == AF_INET)
            ::getsockopt(fd.get(), SOL_IP, kOriginalDst, &original, &length);
        else
            ::getsockopt(fd.get(), SOL_IPV6, kOriginalDst, &original, &length);
        const auto port = reinterpret_cast<const sockaddr_in&>(original).sin_port;  // same offset
        return Accepted{address_of(peer), address_of(original), ntohs(port)};
    }

    PassiveExpectation expectation() const {
        PassiveExpectation e;
        e.session = 1;
        e.client = make_address(GetParam().client);
        e.server = make_address(GetParam().server);
        e.port = kPort;
        e.proxy = make_address(GetParam().client[0] == 'f' ? "fd18::1" : "198.18.0.1");
        e.local_port = kPort;
        return e;
    }

    std::unique_ptr<Netns> firewall_;
    std::unique_ptr<Netns> client_;
    std::unique_ptr<InNetns> inside_;
    std::unique_ptr<NftablesBackend> backend_;
};

TEST_P(NftablesRedirect, ExpectedClientLandsOnListenerOnlyWhileElementExists) {
    const Family& family = GetParam();
    const UniqueFd listening = listener(std::string(family.client).find(':') != std::string::npos);
    ASSERT_TRUE(listening) << "cannot listen on port " << kPort;

    EXPECT_FALSE(client_connects(family.client)) << "connected before any expectation";

    backend_->expect_passive(expectation(), test::kOk);
    ASSERT_TRUE(client_connects(family.client)) << "expected connection not redirected";
    const auto got = accepted(listening.get());
    ASSERT_TRUE(got) << "the listener did not get the connection";
    EXPECT_EQ(family.client, got->peer);
    EXPECT_EQ(family.server, got->original_destination);  // SO_ORIGINAL_DST still tells
    EXPECT_EQ(kPort, got->original_port);

    EXPECT_FALSE(client_connects(family.other_client)) << "another client address got through";

    backend_->clear_session(1);
    EXPECT_FALSE(client_connects(family.client)) << "connected after clear_session()";

    // The counter saw the one redirected connection and none of the others.
    const std::string chain =
        firewall_->exec("nft list chain inet " + backend_->table() + " prerouting");
    EXPECT_NE(chain.find("counter packets 1 "), std::string::npos) << chain;
    EXPECT_EQ(chain.find("counter packets 2 "), std::string::npos) << chain;
}

// docs/forward-proxy.md: a drop policy in the user's own table wins over the
// worker's table; `ct status dnat accept` there lets the expected connection
// (and only that: nothing else is dnat'ed) in.
TEST_P(NftablesRedirect, UsersDropPolicyNeedsCtStatusDnatAccept) {
    const Family& family = GetParam();
    const UniqueFd listening = listener(std::string(family.client).find(':') != std::string::npos);
    ASSERT_TRUE(listening);
    ASSERT_EQ(0, firewall_->run("nft add table inet filter && nft add chain inet filter input "
                                "\"{ type filter hook input priority filter; policy drop; }\" && "
                                "nft add rule inet filter input ct state established,related "
                                "accept && nft add rule inet filter input meta l4proto "
                                "ipv6-icmp accept"));  // neighbour discovery
    backend_->expect_passive(expectation(), test::kOk);
    EXPECT_FALSE(client_connects(family.client)) << "the user's drop policy was overridden";
    ASSERT_EQ(0, firewall_->run("nft add rule inet filter input ct status dnat accept"));
    EXPECT_TRUE(client_connects(family.client));
    EXPECT_TRUE(accepted(listening.get()));
    EXPECT_FALSE(client_connects(family.other_client));
}

INSTANTIATE_TEST_SUITE_P(Families, NftablesRedirect, ::testing::Values(kIpv4, kIpv6),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace firewall
