// What --data-path kernel needs of the system, read from a /proc of the
// test's making: each unmet need is one line naming the setting and the fix.
#include "proxy/kernel_readiness.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace proxy {
namespace {

namespace fs = std::filesystem;

class KernelReadiness : public ::testing::Test {
  protected:
    void SetUp() override {
        proc_ = fs::temp_directory_path() /
                ("ftpx-proc-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                 "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(proc_);
    }
    void TearDown() override { fs::remove_all(proc_); }
    void set(const std::string& name, const std::string& value) {
        const fs::path path = proc_ / "sys" / name;
        fs::create_directories(path.parent_path());
        std::ofstream(path) << value << "\n";
    }
    std::string problem(bool client_v4, bool server_v4) {
        return kernel_path_problem(client_v4, server_v4, proc_.string());
    }
    fs::path proc_;
};

TEST_F(KernelReadiness, ReadyWhenForwardingAndAccountingAreOn) {
    set("net/ipv4/ip_forward", "1");
    set("net/ipv6/conf/all/forwarding", "1");
    set("net/netfilter/nf_conntrack_acct", "1");
    EXPECT_EQ(problem(true, true), "");
    EXPECT_EQ(problem(false, false), "");
}

TEST_F(KernelReadiness, ForwardingOffForTheFamilyInUse) {
    set("net/ipv4/ip_forward", "1");
    set("net/ipv6/conf/all/forwarding", "0");
    set("net/netfilter/nf_conntrack_acct", "1");
    EXPECT_EQ(problem(true, true), "");
    EXPECT_EQ(problem(false, false),
              "--data-path kernel: the kernel must forward the data connections between the "
              "sides, and net.ipv6.conf.all.forwarding is 0: set it to 1 (sysctl -w "
              "net.ipv6.conf.all.forwarding=1) or use --data-path relay");
}

TEST_F(KernelReadiness, AccountingOffOrUnreadable) {
    set("net/ipv4/ip_forward", "1");
    EXPECT_EQ(problem(true, true),
              "--data-path kernel: each transfer's bytes come from conntrack's accounting, and "
              "net.netfilter.nf_conntrack_acct is not readable (" +
                  (proc_ / "sys/net/netfilter/nf_conntrack_acct").string() +
                  "): set it to 1 (sysctl -w net.netfilter.nf_conntrack_acct=1) or use "
                  "--data-path relay");
    set("net/netfilter/nf_conntrack_acct", "0");
    EXPECT_NE(problem(true, true).find("nf_conntrack_acct is 0: set it to 1"), std::string::npos);
}

TEST_F(KernelReadiness, FamiliesThatDifferCannotBeTranslated) {
    EXPECT_EQ(problem(false, true),
              "--data-path kernel: clients reach this proxy over IPv6 and the server is reached "
              "over IPv4; the kernel cannot translate a connection between the two families: "
              "use --data-path relay");
}

}  // namespace
}  // namespace proxy
