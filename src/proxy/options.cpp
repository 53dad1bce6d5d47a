#include "proxy/options.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <sstream>

#include "common/net_address.hpp"
#include "common/printable.hpp"

namespace proxy {
namespace po = boost::program_options;
namespace {

long parse_number(const std::string& flag, const std::string& value, long low, long high,
                  const char* what) {
    long number = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, number);
    if (value.empty() || ec != std::errc{} || ptr != end || number < low || number > high) {
        std::ostringstream message;
        message << flag << ": \"" << value << "\" is not " << what << " (" << low << ".." << high
                << ")";
        throw UsageError(message.str());
    }
    return number;
}

// A conntrack mark: decimal or 0x hexadecimal, nonzero (0 is every
// unmarked connection's).
std::uint32_t parse_mark(const std::string& value) {
    const bool hex = value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X');
    const char* begin = value.data() + (hex ? 2 : 0);
    const char* end = value.data() + value.size();
    std::uint32_t mark = 0;
    auto [ptr, ec] = std::from_chars(begin, end, mark, hex ? 16 : 10);
    if (value.empty() || ec != std::errc{} || ptr != end || mark == 0)
        throw UsageError("--kernel-mark: \"" + value +
                         "\" is not a nonzero 32-bit mark (decimal or 0x hexadecimal)");
    return mark;
}

// Ports follow the configuration file's rule (common::parse_port): 1..65535,
// at most five digits.
std::uint16_t parse_port(const std::string& flag, const std::string& value) {
    const auto port = common::parse_port(value);
    if (!port) throw UsageError(flag + ": \"" + value + "\" is not a port (1..65535)");
    return *port;
}

PortRange parse_port_range(const std::string& value) {
    const std::string flag = "--passive-ports";
    const auto range = common::parse_port_range(value);
    if (!range) {
        // Name what is wrong: no range at all, or which of its ports.
        const auto dash = value.find('-');
        if (dash == std::string::npos)
            throw UsageError(flag + ": \"" + value + "\" is not a range LOW-HIGH");
        parse_port(flag, value.substr(0, dash));
        parse_port(flag, value.substr(dash + 1));
    }
    if (!range || range->low < common::kMinPassivePort)
        throw UsageError(flag + ": \"" + value + "\" must be LOW-HIGH with " +
                         std::to_string(common::kMinPassivePort) + " <= LOW <= HIGH");
    return *range;
}

po::options_description describe_options() {
    po::options_description desc("options");
    // Values are taken as strings and checked by us, so that every error names
    // the flag and the value in our own words. Each OpenBSD flag also gets a
    // long name, which is what the variables map is keyed by.
    auto add = desc.add_options();
    add("ipv6,6", po::bool_switch());
    add("anonymous-only,A", po::bool_switch());
    add("source-address,a", po::value<std::string>());
    add("bind,b", po::value<std::string>());
    add("log-level,D", po::value<std::string>());
    add("debug,d", po::bool_switch());
    add("max-sessions,m", po::value<std::string>());
    add("server-port,P", po::value<std::string>());
    add("port,p", po::value<std::string>());
    add("queue,q", po::value<std::string>());
    add("reverse,R", po::value<std::string>());
    add("port20,r", po::bool_switch());
    add("tag,T", po::value<std::string>());
    add("timeout,t", po::value<std::string>());
    add("verbose,v", po::bool_switch());
    add("passive-to-server", po::bool_switch());
    add("data-timeout", po::value<std::string>());
    add("server-timeout", po::value<std::string>());
    add("passive-ports", po::value<std::string>());
    add("user", po::value<std::string>());
    add("chroot", po::value<std::string>());
    add("listen-fd", po::value<std::string>());
    add("control-fd", po::value<std::string>());
    add("foreground", po::bool_switch());
    add("firewall", po::value<std::string>());
    add("tproxy", po::bool_switch());
    add("handoff", po::bool_switch());
    add("relay", po::value<std::string>());
    add("relay-pipe-size", po::value<std::string>());
    add("data-path", po::value<std::string>());
    add("kernel-mark", po::value<std::string>());
    add("tls-cert", po::value<std::string>());
    add("tls-key", po::value<std::string>());
    add("client-tls", po::value<std::string>());
    add("tls-timeout", po::value<std::string>());
    add("client-tls-reuse", po::value<std::string>());
    add("tls-implicit", po::bool_switch());
    add("server-tls", po::value<std::string>());
    add("tls-min-version", po::value<std::string>());
    add("tls-ciphers", po::value<std::string>());
    add("server-tls-ca", po::value<std::string>());
    add("server-tls-name", po::value<std::string>());
    add("server-tls-fingerprint", po::value<std::string>());
    add("help", po::bool_switch());
    add("version", po::bool_switch());
    return desc;
}

}  // namespace

std::string usage_text() {
    return "usage: ftp-proxy [-6Adrv] [-a address] [-b address] [-D level] [-m maxsessions]\n"
           "                 [-P port] [-p port] [-q queue] [-R address] [-T tag] [-t timeout]\n"
           "                 [--passive-to-server] [--data-timeout seconds]\n"
           "                 [--server-timeout seconds]\n"
           "                 [--passive-ports low-high] [--user name] [--chroot dir]\n"
           "                 [--listen-fd n] [--control-fd n] [--foreground]\n"
           "                 [--firewall nftables|pf|none] [--tproxy] [--handoff]\n"
           "                 [--relay splice|copy] [--relay-pipe-size bytes]\n"
           "                 [--data-path relay|kernel] [--kernel-mark value]\n"
           "                 [--tls-cert file] [--tls-key file]\n"
           "                 [--client-tls off|optional|required] [--tls-timeout seconds]\n"
           "                 [--tls-implicit] [--client-tls-reuse optional|required]\n"
           "                 [--server-tls off|auto|required] [--server-tls-ca file]\n"
           "                 [--server-tls-name name] [--server-tls-fingerprint sha256]\n"
           "                 [--tls-min-version 1.2|1.3] [--tls-ciphers list]\n"
           "                 [--help] [--version]\n";
}

namespace {

// The command line as boost reads it; every error is one UsageError line.
po::variables_map read_command_line(const std::vector<std::string>& args) {
    po::variables_map vm;
    try {
        auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;
        // An empty positional description makes stray arguments an error.
        po::positional_options_description no_positionals;
        po::store(po::command_line_parser(args)
                      .options(describe_options())
                      .positional(no_positionals)
                      .style(style)
                      .run(),
                  vm);
    } catch (const po::unknown_option& e) {
        // Not e.what(): boost fills its message template by replacing
        // "%original_token%" with the token until none is left, which never
        // ends when the token itself contains "%original_token%".
        throw UsageError("unknown option \"" + e.get_option_name() + "\"");
    } catch (const po::error& e) {
        // The same loop in every other message: before e.what(), refuse an
        // argument that holds one of boost's placeholders (found by fuzzing:
        // a hang, not an error). No flag or value of ours contains them.
        for (const auto& arg : args)
            for (const char* placeholder :
                 {"%option%", "%value%", "%prefix%", "%original_token%", "%canonical_option%"})
                if (arg.find(placeholder) != std::string::npos)
                    throw UsageError("argument \"" + common::printable(arg) + "\" contains \"" +
                                     placeholder + "\", which no option or value may contain");
        throw UsageError(e.what());
    }
    return vm;
}

template <typename Text>
void read_tls_values(Options& o, Text& text) {
    if (auto v = text("tls-cert")) o.tls_cert = *v;
    if (auto v = text("tls-key")) o.tls_key = *v;
    if (o.tls_key && !o.tls_cert) throw UsageError("--tls-key: needs --tls-cert");
    if (o.tls_cert && !o.tls_key) o.tls_key = o.tls_cert;  // one PEM file with both
    if (o.tls_cert) o.client_tls = "optional";
    if (auto v = text("client-tls")) {
        if (*v != "off" && *v != "optional" && *v != "required")
            throw UsageError("--client-tls: \"" + *v + "\" is not one of off, optional, required");
        if (*v != "off" && !o.tls_cert)
            throw UsageError("--client-tls " + *v + ": needs a certificate (--tls-cert)");
        o.client_tls = *v;
    }
    if (auto v = text("tls-timeout"))
        o.tls_timeout = std::chrono::seconds(
            parse_number("--tls-timeout", *v, 1, 3600, "a timeout in seconds"));
    if (auto v = text("client-tls-reuse")) {
        if (*v != "optional" && *v != "required")
            throw UsageError("--client-tls-reuse: \"" + *v + "\" is not one of optional, required");
        if (o.client_tls == "off")
            throw UsageError("--client-tls-reuse " + *v +
                             ": no TLS toward clients (--tls-cert, --client-tls)");
        o.client_tls_reuse = *v;
    }
    if (o.tls_implicit && !o.tls_cert)
        throw UsageError("--tls-implicit: needs a certificate (--tls-cert)");
    if (o.tls_implicit && o.client_tls == "off")
        throw UsageError("--tls-implicit: every session is TLS; --client-tls off contradicts it");
    if (auto v = text("server-tls")) {
        if (*v != "off" && *v != "auto" && *v != "required")
            throw UsageError("--server-tls: \"" + *v + "\" is not one of off, auto, required");
        o.server_tls = *v;
    }
    const std::string* min_version = text("tls-min-version");
    const std::string* ciphers = text("tls-ciphers");
    if (min_version) {
        if (*min_version != "1.2" && *min_version != "1.3")
            throw UsageError("--tls-min-version: \"" + *min_version + "\" is not one of 1.2, 1.3");
        o.tls_min_version = *min_version;
    }
    if (ciphers) o.tls_ciphers = *ciphers;
    if ((min_version || ciphers) && !o.tls_cert && o.server_tls == "off")
        throw UsageError(std::string(ciphers ? "--tls-ciphers" : "--tls-min-version") +
                         ": no TLS is configured (--tls-cert or --server-tls)");
    if (auto v = text("server-tls-ca")) o.server_tls_ca = *v;
    if (auto v = text("server-tls-name")) o.server_tls_name = *v;
    if (auto v = text("server-tls-fingerprint")) {
        // openssl x509 -fingerprint -sha256 prints it with colons.
        std::string digits;
        for (char c : *v)
            if (c != ':') digits += c;
        if (digits.size() != 64 ||
            digits.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            throw UsageError("--server-tls-fingerprint: \"" + common::printable(*v) +
                             "\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
        o.server_tls_fingerprint = *v;
    }
    for (const auto& [flag, given] :
         {std::pair{"--server-tls-ca", o.server_tls_ca.has_value()},
          {"--server-tls-name", o.server_tls_name.has_value()},
          {"--server-tls-fingerprint", o.server_tls_fingerprint.has_value()}})
        if (given && o.server_tls == "off")
            throw UsageError(std::string(flag) + ": needs --server-tls auto or required");
    if (o.server_tls_ca && o.server_tls_fingerprint)
        throw UsageError(
            "--server-tls-ca: a pinned certificate (--server-tls-fingerprint) is checked by its "
            "fingerprint alone; give one of the two");
}

// Each flag's value, range-checked.
Options read_values(const po::variables_map& vm) {
    Options o;
    // An empty value is refused for every flag: `--chroot ""` (an unset shell
    // variable) would silently mean no chroot, and boost accepts "--flag ''"
    // but not "--flag=".
    auto text = [&](const char* key) -> const std::string* {
        if (!vm.count(key)) return nullptr;
        const std::string& value = vm[key].as<std::string>();
        if (value.empty()) throw UsageError(std::string("--") + key + ": the value is empty");
        return &value;
    };
    o.ipv6_defaults = vm["ipv6"].as<bool>();
    o.anonymous_only = vm["anonymous-only"].as<bool>();
    o.debug = vm["debug"].as<bool>();
    o.data_from_port_20 = vm["port20"].as<bool>();
    o.verbose = vm["verbose"].as<bool>();
    o.passive_to_server = vm["passive-to-server"].as<bool>();
    o.foreground = vm["foreground"].as<bool>();
    o.tproxy = vm["tproxy"].as<bool>();
    o.handoff = vm["handoff"].as<bool>();
    o.tls_implicit = vm["tls-implicit"].as<bool>();
    if (auto v = text("firewall")) {
        if (*v != "nftables" && *v != "pf" && *v != "none")
            throw UsageError("--firewall: \"" + *v + "\" is not one of nftables, pf, none");
        o.firewall = *v;
    }
    o.listen_address = o.ipv6_defaults ? "::1" : "127.0.0.1";
    if (auto v = text("source-address")) o.source_address = *v;
    if (auto v = text("bind")) o.listen_address = *v;
    if (auto v = text("log-level"))
        o.log_level = static_cast<int>(parse_number("-D", *v, 0, 7, "a log level"));
    if (auto v = text("max-sessions"))
        o.max_sessions =
            static_cast<int>(parse_number("-m", *v, 1, kMaxMaxSessions, "a number of sessions"));
    if (auto v = text("server-port")) o.server_port = parse_port("-P", *v);
    if (auto v = text("port")) o.listen_port = parse_port("-p", *v);
    if (auto v = text("queue")) o.queue = *v;
    if (auto v = text("reverse")) o.reverse_host = *v;
    if (auto v = text("tag")) o.tag = *v;
    if (auto v = text("timeout"))
        o.idle_timeout =
            std::chrono::seconds(parse_number("-t", *v, 1, 86400 * 365, "a timeout in seconds"));
    if (auto v = text("data-timeout"))
        o.data_timeout = std::chrono::seconds(
            parse_number("--data-timeout", *v, 1, 86400, "a timeout in seconds"));
    if (auto v = text("server-timeout"))
        o.server_timeout = std::chrono::seconds(
            parse_number("--server-timeout", *v, 1, 3600, "a timeout in seconds"));
    if (auto v = text("passive-ports")) o.passive_ports = parse_port_range(*v);
    if (auto v = text("user")) o.user = *v;
    if (auto v = text("chroot")) o.chroot_dir = *v;
    if (auto v = text("listen-fd"))
        o.listen_fd = static_cast<int>(parse_number("--listen-fd", *v, 3, 1 << 20, "a descriptor"));
    if (auto v = text("control-fd"))
        o.control_fd =
            static_cast<int>(parse_number("--control-fd", *v, 3, 1 << 20, "a descriptor"));
    if (auto v = text("relay")) {
        if (*v != "splice" && *v != "copy")
            throw UsageError("--relay: \"" + *v + "\" is not one of splice, copy");
        if (*v == "splice" && !Options::splice_available())
            throw UsageError("--relay splice: splice(2) exists only on Linux; use --relay copy");
        o.relay_splice = *v == "splice";
    }
    if (auto v = text("data-path")) {
        if (*v != "relay" && *v != "kernel")
            throw UsageError("--data-path: \"" + *v + "\" is not one of relay, kernel");
        o.kernel_data_path = *v == "kernel";
    }
    if (auto v = text("kernel-mark")) {
        if (!o.kernel_data_path)
            throw UsageError(
                "--kernel-mark: only the kernel data path marks connections "
                "(--data-path kernel)");
        o.kernel_mark = parse_mark(*v);
    }
    if (auto v = text("relay-pipe-size")) {
        if (!o.relay_splice)
            throw UsageError(
                "--relay-pipe-size: only the splice relay uses a pipe (--relay copy "
                "was given or splice is not available)");
        o.relay_pipe_size = static_cast<std::size_t>(
            parse_number("--relay-pipe-size", *v, static_cast<long>(kMinRelayPipeSize),
                         static_cast<long>(kMaxRelayPipeSize), "a pipe size in bytes"));
    }
    read_tls_values(o, text);
    return o;
}

// Flags that are each valid but not together.
void check_combinations(const Options& o) {
    // The kernel data path: the firewall translates each data connection.
    // Built with nftables so far (issue 13: pf's rule pairs are still to
    // come); anything else is refused, not quietly relayed.
    if (o.kernel_data_path) {
        if (o.firewall && *o.firewall != "nftables")
            throw UsageError(
                "--data-path kernel: the firewall must translate the data "
                "connections, and only nftables does so far (--firewall " +
                *o.firewall + " was given)");
#ifndef __linux__
        throw UsageError("--data-path kernel: needs Linux with nftables so far");
#endif
    }
    if (o.reverse_host && o.firewall && *o.firewall != "none" &&
        !(o.kernel_data_path && *o.firewall == "nftables"))
        throw UsageError("--firewall " + *o.firewall +
                         ": reverse mode (-R) needs no firewall state; data connections go to "
                         "the proxy's own address (unless --data-path kernel)");
    // Forward mode cannot hold a certificate for every server a client may
    // reach: AUTH stays refused there (502), clients go on in clear text.
    if (!o.reverse_host && o.tls_cert)
        throw UsageError(
            "--tls-cert: explicit FTPS toward clients needs reverse mode (-R); forward mode "
            "refuses AUTH");
    // Forward mode reaches any server a client names: no name or CA could
    // be checked for it, and TLS without that check is no protection.
    if (!o.reverse_host && o.server_tls != "off")
        throw UsageError("--server-tls " + o.server_tls +
                         ": TLS toward the server needs reverse mode (-R), where the server "
                         "and its certificate are known");
    if (o.reverse_host && o.tproxy)
        throw UsageError("--tproxy: only forward mode (no -R) receives diverted connections");
    if (o.handoff && !o.reverse_host)
        throw UsageError(
            "--handoff: only reverse mode (-R) has sessions addressed to a shared address");
#ifndef __linux__
    if (o.handoff) throw UsageError("--handoff: needs Linux (IP_TRANSPARENT)");
#endif
    if (o.queue && o.queue->size() > 15)
        throw UsageError("-q: queue name \"" + *o.queue + "\" is longer than 15 characters");
    if (o.tag && o.tag->size() > 63)
        throw UsageError("-T: tag \"" + *o.tag + "\" is longer than 63 characters");
}

}  // namespace

Options parse_options(const std::vector<std::string>& args) {
    const po::variables_map vm = read_command_line(args);
    if (vm["help"].as<bool>()) throw InfoRequest{usage_text()};
    if (vm["version"].as<bool>()) throw InfoRequest{"ftp-proxy (ftpproxy) 0.1.0\n"};
    Options o = read_values(vm);
    check_combinations(o);
    return o;
}

}  // namespace proxy
