// make_backend() and the `none` backend.
#include <unistd.h>

#include <cstdlib>

#include "firewall/firewall.hpp"
#include "firewall/pf_backend.hpp"
#include "firewall/privileged_runner.hpp"
#ifdef FTPPROXY_HAVE_NFTABLES
#include "firewall/nftables_backend.hpp"
#endif

namespace firewall {
namespace {

// pfctl's home on OpenBSD; FTPPROXY_PFCTL overrides it (tests, other BSDs).
constexpr const char* kDefaultPfctl = "/sbin/pfctl";

// Reverse mode, or a firewall whose rules the administrator keeps by hand:
// every call succeeds and changes nothing.
class NoneBackend : public Backend {
  public:
    void init() override {}
    void expect_passive(const PassiveExpectation&, Done done) override { done({}); }
    void expect_active(const ActiveExpectation&, Done done) override { done({}); }
    void expect_onward(const OnwardExpectation&, Done done) override { done({}); }
    void connection_arrived(std::uint64_t) noexcept override {}
    void clear_session(std::uint64_t) noexcept override {}
    void shutdown() noexcept override {}
    std::string name() const override { return "none"; }
};

std::unique_ptr<Backend> make_pf(const RuleOptions& options, boost::asio::io_context& io) {
    const char* configured = std::getenv("FTPPROXY_PFCTL");
    const std::string pfctl = configured && *configured ? configured : kDefaultPfctl;
    if (::access(pfctl.c_str(), X_OK) != 0)
        throw Error(pfctl + " is not an executable (pf is OpenBSD's firewall; set FTPPROXY_PFCTL)");
    // As root, the worker is about to drop to an unprivileged user and chroot,
    // after which it could not run pfctl: hand that to a privileged helper now.
    if (::geteuid() == 0)
        return std::make_unique<PfBackend>(options, pfctl, ::getpid(),
                                           start_privileged_runner(pfctl, io));
    return std::make_unique<PfBackend>(options, pfctl);
}

}  // namespace

void settle(const Done& done, const std::function<void()>& work) {
    std::string error;
    try {
        work();
    } catch (const Error& e) {
        error = e.what();
    }
    done(std::move(error));
}

std::unique_ptr<Backend> make_backend(const std::string& name, const RuleOptions& options,
                                      const std::string& instance, boost::asio::io_context& io) {
    if (name == "none") return std::make_unique<NoneBackend>();
    if (name == "pf") return make_pf(options, io);
    if (name == "nftables") {
#ifdef FTPPROXY_HAVE_NFTABLES
        return std::make_unique<NftablesBackend>(options, instance);
#else
        throw Error("this build has no nftables support (libnftables was not found)");
#endif
    }
    throw Error("unknown firewall backend \"" + name + "\" (nftables, pf, none)");
}

}  // namespace firewall
