#include "firewall/nft_commands.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

#include "common/net_address.hpp"
#include "firewall/addresses.hpp"

namespace firewall::nft {
namespace {

// nft names are at most 256 bytes; an instance is a short label ("p8021").
constexpr std::size_t kMaxInstance = 64;
constexpr const char* kTablePrefix = "ftpproxy_";

// Our prerouting chain runs before the usual dstnat chains (priority -100),
// so a user's broad redirect cannot take the data connection first; our
// input chain runs before the usual filter chains (0); our postrouting chain
// before the usual srcnat chains (100), so that a user's masquerade on the
// LAN side cannot hide the server's address again.
constexpr const char* kNatPriority = "dstnat - 10";
constexpr const char* kFilterPriority = "filter - 10";
constexpr const char* kSourceNatPriority = "srcnat - 10";

std::string key_of(const Address& a, const Address& b, std::uint16_t port) {
    return common::canonical(a).to_string() + " . " + common::canonical(b).to_string() + " . " +
           std::to_string(port);
}

std::string sanitized(const std::string& instance) {
    std::string name = instance;
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    return name;
}

std::string element_text(const Element& element, const std::string& options) {
    std::string text = element.key + options;
    if (!element.value.empty()) text += " : " + element.value;
    return text;
}

}  // namespace

std::string table_name(const std::string& instance, pid_t pid) {
    if (instance.empty() || instance.size() > kMaxInstance)
        throw Error("instance name must have 1 to 64 characters");
    return kTablePrefix + sanitized(instance) + "_" + std::to_string(pid);
}

std::vector<TableOwner> instance_tables(const std::string& listing, const std::string& instance) {
    const std::string prefix = kTablePrefix + sanitized(instance) + "_";
    std::vector<TableOwner> found;
    std::istringstream lines(listing);
    std::string word, family, name;
    while (lines >> word >> family >> name) {
        if (word != "table" || family != "inet" || name.rfind(prefix, 0) != 0) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.empty() || digits.size() > 9 ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(c); }))
            continue;  // another instance whose name starts like ours
        found.push_back({name, static_cast<pid_t>(std::stol(digits))});
    }
    return found;
}

// The kernel data path (see firewall.hpp KernelForwarding). Prerouting: a
// new connection whose SADDR . DADDR . DPORT is armed deletes its element
// from the packet path (so a second connection finds none: single use, in
// the kernel, without waiting for the worker), gets the mark and is
// translated by the second structure, kdnat (the lookup that follows the
// delete cannot be in the set it deleted from). Postrouting: a marked
// connection takes its source from ksnatp (address and port, -r) or ksnat
// (address), keyed on SADDR . DADDR . DPORT after the translation. NAT
// chains see only a connection's first packet, so none of this runs for the
// packets of an established transfer.
std::string kernel_sets(bool v4) {
    const std::string a = v4 ? "ipv4_addr" : "ipv6_addr";
    const std::string n = v4 ? "4" : "6";
    const std::string key = a + " . " + a + " . inet_service";
    return "\tset karm" + n + " { type " + key + "; flags timeout,dynamic; }\n" + "\tmap kdnat" +
           n + " { type " + key + " : " + a + " . inet_service; flags timeout; }\n" +
           "\tmap ksnat" + n + " { type " + key + " : " + a + "; flags timeout; }\n" +
           "\tmap ksnatp" + n + " { type " + key + " : " + a +
           " . inet_service; flags timeout; }\n";
}

std::string mark_text(std::uint32_t mark) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08x", mark);
    return text;
}

std::string kernel_prerouting(bool v4, std::uint32_t mark, const std::string& logged) {
    const std::string ip = v4 ? "ip" : "ip6";
    const std::string n = v4 ? "4" : "6";
    const std::string key = ip + " saddr . " + ip + " daddr . tcp dport";
    return std::string("\t\tmeta nfproto ") + (v4 ? "ipv4" : "ipv6") + " meta l4proto tcp " + key +
           " @karm" + n + " delete @karm" + n + " { " + key + " }" + logged +
           " counter ct mark set " + mark_text(mark) + " dnat " + ip + " to " + key +
           " map @kdnat" + n + "\n";
}

std::string kernel_postrouting(bool v4, std::uint32_t mark) {
    const std::string ip = v4 ? "ip" : "ip6";
    const std::string n = v4 ? "4" : "6";
    const std::string key = ip + " saddr . " + ip + " daddr . tcp dport";
    const std::string head = std::string("\t\tmeta nfproto ") + (v4 ? "ipv4" : "ipv6") +
                             " meta l4proto tcp ct mark " + mark_text(mark) + " ";
    return head + key + " @ksnatp" + n + " counter snat " + ip + " to " + key + " map @ksnatp" + n +
           "\n" + head + "counter snat " + ip + " to " + key + " map @ksnat" + n + "\n";
}

std::string create_script(const std::string& table, const std::string& instance, pid_t pid,
                          bool log, std::optional<std::uint32_t> kernel_mark) {
    // The lookup comes first so that the counter (and the log) see only the
    // expected connections, not every new TCP connection the hook sees.
    const auto logged = [&](const char* what) {
        return log ? std::string(" log prefix \"") + table + " " + what + ": \"" : std::string();
    };
    // A map keyed on saddr . daddr . dport whose value completes `action`
    // (the redirect port, the source address).
    const auto map_rule = [&](bool v4, const std::string& map, const char* what,
                              const std::string& action) {
        const std::string ip = v4 ? "ip" : "ip6";
        const std::string key = ip + " saddr . " + ip + " daddr . tcp dport";
        return std::string("\t\tmeta nfproto ") + (v4 ? "ipv4" : "ipv6") + " meta l4proto tcp " +
               key + " @" + map + logged(what) + " counter " + action + key + " map @" + map + "\n";
    };
    std::ostringstream s;
    s << "table inet " << table << " {}\n"
      << "delete table inet " << table << "\n"
      << "table inet " << table << " {\n"
      << "\tcomment \"ftp-proxy " << sanitized(instance) << " pid " << pid
      << ": one expected data connection per element\"\n"
      << "\tmap pasv4 { type ipv4_addr . ipv4_addr . inet_service : inet_service; flags timeout; "
         "}\n"
      << "\tmap pasv6 { type ipv6_addr . ipv6_addr . inet_service : inet_service; flags timeout; "
         "}\n"
      << "\tset act4 { type ipv4_addr . ipv4_addr . inet_service; flags timeout; }\n"
      << "\tset act6 { type ipv6_addr . ipv6_addr . inet_service; flags timeout; }\n"
      << "\tmap snat4 { type ipv4_addr . ipv4_addr . inet_service : ipv4_addr; flags timeout; "
         "}\n"
      << "\tmap snat6 { type ipv6_addr . ipv6_addr . inet_service : ipv6_addr; flags timeout; "
         "}\n"
      << (kernel_mark ? kernel_sets(true) + kernel_sets(false) : "") << "\tchain prerouting {\n"
      << "\t\ttype nat hook prerouting priority " << kNatPriority << "; policy accept;\n"
      << map_rule(true, "pasv4", "passive", "redirect to : ")
      << map_rule(false, "pasv6", "passive", "redirect to : ")
      << (kernel_mark ? kernel_prerouting(true, *kernel_mark, logged("kernel")) +
                            kernel_prerouting(false, *kernel_mark, logged("kernel"))
                      : "")
      << "\t}\n"
      << "\tchain input {\n"
      << "\t\ttype filter hook input priority " << kFilterPriority << "; policy accept;\n"
      << "\t\tmeta l4proto tcp ip saddr . ip daddr . tcp dport @act4 ct state new"
      << logged("active") << " counter accept\n"
      << "\t\tmeta l4proto tcp ip6 saddr . ip6 daddr . tcp dport @act6 ct state new"
      << logged("active") << " counter accept\n"
      << "\t}\n"
      << "\tchain postrouting {\n"
      << "\t\ttype nat hook postrouting priority " << kSourceNatPriority << "; policy accept;\n"
      << map_rule(true, "snat4", "source nat", "snat ip to ")
      << map_rule(false, "snat6", "source nat", "snat ip6 to ")
      << (kernel_mark
              ? kernel_postrouting(true, *kernel_mark) + kernel_postrouting(false, *kernel_mark)
              : "")
      << "\t}\n"
      << "}\n";
    return s.str();
}

std::string delete_script(const std::string& table) {
    return "table inet " + table + " {}\ndelete table inet " + table + "\n";
}

Element passive_element(const PassiveExpectation& e) {
    if (e.port == 0 || e.local_port == 0) throw Error("passive expectation without a port");
    const bool v4 = all_ipv4({e.client, e.server});
    return {v4 ? "pasv4" : "pasv6", key_of(e.client, e.server, e.port),
            std::to_string(e.local_port)};
}

Element active_element(const ActiveExpectation& e) {
    if (e.port == 0) throw Error("active expectation without a port");
    const bool v4 = all_ipv4({e.server, e.proxy});
    return {v4 ? "act4" : "act6", key_of(e.server, e.proxy, e.port), {}};
}

Element source_nat_element(const OnwardLeg& leg) {
    if (!leg.nat_to) throw Error("onward leg without a source to translate to");
    if (leg.port == 0) throw Error("onward leg without a port");
    if (leg.from.is_unspecified())
        throw Error("source NAT needs the proxy's own source address, not any");
    const bool v4 = all_ipv4({leg.from, leg.to, *leg.nat_to});
    return {v4 ? "snat4" : "snat6", key_of(leg.from, leg.to, leg.port),
            common::canonical(*leg.nat_to).to_string()};
}

std::vector<Element> kernel_elements(const KernelForwarding& f) {
    if (f.port == 0 || f.to_port == 0) throw Error("kernel forwarding without a port");
    if (f.source.is_unspecified()) throw Error("kernel forwarding without a source address");
    // Mixed families throw: the kernel cannot translate between IPv4 and IPv6.
    const bool v4 = all_ipv4({f.from, f.proxy, f.to, f.source});
    const std::string n = v4 ? "4" : "6";
    const auto text = [](const Address& a) { return common::canonical(a).to_string(); };
    std::vector<Element> elements;
    elements.push_back({"karm" + n, key_of(f.from, f.proxy, f.port), {}});
    elements.push_back({"kdnat" + n, key_of(f.from, f.proxy, f.port),
                        text(f.to) + " . " + std::to_string(f.to_port)});
    if (f.source_port)
        elements.push_back({"ksnatp" + n, key_of(f.from, f.to, f.to_port),
                            text(f.source) + " . " + std::to_string(f.source_port)});
    else
        elements.push_back({"ksnat" + n, key_of(f.from, f.to, f.to_port), text(f.source)});
    return elements;
}

std::string add_command(const std::string& table, const Element& element,
                        std::chrono::seconds timeout, std::uint64_t session) {
    // nft refuses a zero timeout; an expectation lives at least a second.
    const auto seconds = std::max<std::chrono::seconds::rep>(timeout.count(), 1);
    return "add element inet " + table + " " + element.set + " { " +
           element_text(element, " timeout " + std::to_string(seconds) + "s comment \"" +
                                     session_tag(session) + "\"") +
           " }\n";
}

std::string remove_commands(const std::string& table, const Element& element) {
    return "add element inet " + table + " " + element.set + " { " +
           element_text(element, " timeout 1s") + " }\n" + "delete element inet " + table + " " +
           element.set + " { " + element.key + " }\n";
}

}  // namespace firewall::nft
