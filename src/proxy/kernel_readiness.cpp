#include "proxy/kernel_readiness.hpp"

#include <fstream>

namespace proxy {
namespace {

// The first word of a /proc/sys file; empty when it cannot be read.
std::string setting(const std::string& path) {
    std::ifstream in(path);
    std::string word;
    in >> word;
    return word;
}

std::string needs_on(const std::string& proc, const std::string& name, const std::string& why) {
    const std::string path = proc + "/sys/" + name;
    std::string key = name;
    for (char& c : key)
        if (c == '/') c = '.';
    const std::string value = setting(path);
    if (value == "1") return {};
    return "--data-path kernel: " + why + ", and " + key + " is " +
           (value.empty() ? std::string("not readable (") + path + ")" : value) +
           ": set it to 1 (sysctl -w " + key + "=1) or use --data-path relay";
}

}  // namespace

std::string kernel_path_problem(bool client_v4, bool server_v4, const std::string& proc) {
    if (client_v4 != server_v4)
        return "--data-path kernel: clients reach this proxy over " +
               std::string(client_v4 ? "IPv4" : "IPv6") + " and the server is reached over " +
               (server_v4 ? "IPv4" : "IPv6") +
               "; the kernel cannot translate a connection between the two families: use "
               "--data-path relay";
    const std::string forwarding =
        client_v4 ? needs_on(proc, "net/ipv4/ip_forward",
                             "the kernel must forward the data connections between the sides")
                  : needs_on(proc, "net/ipv6/conf/all/forwarding",
                             "the kernel must forward the data connections between the sides");
    if (!forwarding.empty()) return forwarding;
    return needs_on(proc, "net/netfilter/nf_conntrack_acct",
                    "each transfer's bytes come from conntrack's accounting");
}

}  // namespace proxy
