// nftables (Linux): one table per worker process, `inet
// ftpproxy_<instance>_<pid>`, holding a nat prerouting chain that redirects
// an expected client connection to the proxy's listener, an input chain
// that accepts an expected server connection, and a postrouting chain that
// gives the proxy's own active-mode connection to the client the server's
// address. Per-session state is one element with a timeout in a map
// (passive) or set (active), plus one in the source NAT map (active). The
// table is written through libnftables, the elements of each data connection
// as one binary batch (nft_element_writer.hpp): no process is forked, no
// text parsed per data connection.
//
// Which element belongs to which session is kept here (and shown in
// `nft list table` as the element's comment "#<session>"): nft map elements
// cannot be looked up by comment without listing the whole set.
//
// Not thread-safe: a worker drives it from its one io_context thread.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "firewall/firewall.hpp"
#include "firewall/nft_commands.hpp"
#include "firewall/nft_element_writer.hpp"

struct nft_ctx;

namespace firewall {

class NftablesBackend : public Backend {
  public:
    NftablesBackend(RuleOptions options, std::string instance, pid_t pid = ::getpid());
    ~NftablesBackend() override;

    void init() override;
    void expect_passive(const PassiveExpectation& expectation, Done done) override;
    void expect_active(const ActiveExpectation& expectation, Done done) override;
    void expect_onward(const OnwardExpectation& expectation, Done done) override;
    void forward_in_kernel(const KernelForwarding& forwarding, Done done) override;
    bool kernel_forwarding() const override { return options_.kernel_mark.has_value(); }
    void connection_arrived(std::uint64_t session) noexcept override;
    void clear_session(std::uint64_t session) noexcept override;
    void shutdown() noexcept override;
    std::string name() const override { return "nftables"; }

    const std::string& table() const { return table_; }

  private:
    // One session's live elements.
    struct SessionElements {
        // Let the expected connection in (the kernel data path's three).
        std::vector<nft::Element> expected;
        std::optional<nft::Element> nat;       // the onward leg's source NAT
        bool kernel = false;                   // forward_in_kernel()'s
    };

    // Runs nft commands as one transaction; throws Error with nft's message.
    std::string run(const std::string& commands);
    void expect(std::uint64_t session, std::chrono::seconds timeout,
                const std::function<SessionElements()>& make_elements);
    nft::ElementBatch removal(std::uint64_t session) const;
    void remove_table() noexcept;  // shutdown(), also from the destructor

    struct ContextFree {
        void operator()(nft_ctx* context) const;
    };
    std::unique_ptr<nft_ctx, ContextFree> context_;
    RuleOptions options_;
    std::string instance_;
    pid_t pid_;
    std::string table_;
    nft::ElementWriter writer_;  // the elements (libnftnl); the table itself goes through run()
    bool created_ = false;
    std::unordered_map<std::uint64_t, SessionElements> sessions_;
    // The translations of kernel-path connections already used: inert
    // (their armed element went with the first packet), removed with the
    // next transaction of any session instead of one of their own (a
    // netlink transaction costs more than the rest of a data connection's
    // setup together), or by their timeout.
    nft::ElementBatch used_translations_;
};

}  // namespace firewall
