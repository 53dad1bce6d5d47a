// libFuzzer target for the worker's command line (src/proxy/options.cpp):
// the input is an argv, one argument per line. Invariants:
// - parse_options gives Options, a UsageError (one non-empty line) or the
//   --help/--version text; no other exception;
// - every value in the Options is within its documented range, and the
//   combinations the parser refuses (reverse mode with a firewall or
//   tproxy, a pipe size with the copy relay) never come out;
// - round trip: the Options written back as long options parse to the same
//   Options.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "fuzz_support.hpp"
#include "proxy/options.hpp"

namespace {

using proxy::Options;

bool same(const Options& a, const Options& b) {
    return a.ipv6_defaults == b.ipv6_defaults && a.anonymous_only == b.anonymous_only &&
           a.source_address == b.source_address && a.listen_address == b.listen_address &&
           a.log_level == b.log_level && a.debug == b.debug && a.max_sessions == b.max_sessions &&
           a.server_port == b.server_port && a.listen_port == b.listen_port && a.queue == b.queue &&
           a.reverse_host == b.reverse_host && a.data_from_port_20 == b.data_from_port_20 &&
           a.tag == b.tag && a.idle_timeout == b.idle_timeout && a.verbose == b.verbose &&
           a.passive_to_server == b.passive_to_server && a.data_timeout == b.data_timeout &&
           a.passive_ports.low == b.passive_ports.low &&
           a.passive_ports.high == b.passive_ports.high && a.user == b.user &&
           a.chroot_dir == b.chroot_dir && a.listen_fd == b.listen_fd &&
           a.control_fd == b.control_fd && a.foreground == b.foreground &&
           a.firewall == b.firewall && a.tproxy == b.tproxy && a.relay_splice == b.relay_splice &&
           a.relay_pipe_size == b.relay_pipe_size;
}

// Options -> argv, long forms with "=" so that a value starting with '-'
// stays a value.
std::vector<std::string> to_argv(const Options& o) {
    std::vector<std::string> argv;
    const auto flag = [&](bool on, const char* name) {
        if (on) argv.emplace_back(name);
    };
    const auto value = [&](const char* name, const std::string& text) {
        argv.push_back(std::string(name) + "=" + text);
    };
    flag(o.ipv6_defaults, "--ipv6");
    flag(o.anonymous_only, "--anonymous-only");
    flag(o.debug, "--debug");
    flag(o.data_from_port_20, "--port20");
    flag(o.verbose, "--verbose");
    flag(o.passive_to_server, "--passive-to-server");
    flag(o.foreground, "--foreground");
    flag(o.tproxy, "--tproxy");
    if (o.source_address) value("--source-address", *o.source_address);
    value("--bind", o.listen_address);
    value("--log-level", std::to_string(o.log_level));
    value("--max-sessions", std::to_string(o.max_sessions));
    value("--server-port", std::to_string(o.server_port));
    value("--port", std::to_string(o.listen_port));
    if (o.queue) value("--queue", *o.queue);
    if (o.reverse_host) value("--reverse", *o.reverse_host);
    if (o.tag) value("--tag", *o.tag);
    value("--timeout", std::to_string(o.idle_timeout.count()));
    value("--data-timeout", std::to_string(o.data_timeout.count()));
    if (o.passive_ports.low != 0)
        value("--passive-ports",
              std::to_string(o.passive_ports.low) + "-" + std::to_string(o.passive_ports.high));
    value("--user", o.user);
    value("--chroot", o.chroot_dir);
    if (o.listen_fd) value("--listen-fd", std::to_string(*o.listen_fd));
    if (o.control_fd) value("--control-fd", std::to_string(*o.control_fd));
    if (o.firewall) value("--firewall", *o.firewall);
    value("--relay", o.relay_splice ? "splice" : "copy");
    if (o.relay_splice) value("--relay-pipe-size", std::to_string(o.relay_pipe_size));
    return argv;
}

void check_ranges(const Options& o) {
    FUZZ_CHECK(o.log_level >= 0 && o.log_level <= 7);
    FUZZ_CHECK(o.max_sessions >= 1 && o.max_sessions <= proxy::kMaxMaxSessions);
    FUZZ_CHECK(o.server_port != 0 && o.listen_port != 0);
    FUZZ_CHECK(o.idle_timeout.count() >= 1 && o.data_timeout.count() >= 1);
    const bool no_range = o.passive_ports.low == 0 && o.passive_ports.high == 0;
    FUZZ_CHECK(no_range ||
               (o.passive_ports.low >= 1024 && o.passive_ports.low <= o.passive_ports.high));
    FUZZ_CHECK(o.relay_pipe_size >= proxy::kMinRelayPipeSize &&
               o.relay_pipe_size <= proxy::kMaxRelayPipeSize);
    FUZZ_CHECK(!o.listen_fd || *o.listen_fd >= 3);
    FUZZ_CHECK(!o.control_fd || *o.control_fd >= 3);
    FUZZ_CHECK(!o.firewall || *o.firewall == "nftables" || *o.firewall == "pf" ||
               *o.firewall == "none");
    FUZZ_CHECK(!o.reverse_host || !o.tproxy);
    FUZZ_CHECK(!o.reverse_host || !o.firewall || *o.firewall == "none");
    FUZZ_CHECK(!o.queue || o.queue->size() <= 15);
    FUZZ_CHECK(!o.tag || o.tag->size() <= 63);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args;
    for (const std::string_view line : fuzz::lines_of(fuzz::as_text(data, size)))
        args.emplace_back(line);
    Options options;
    try {
        options = proxy::parse_options(args);
    } catch (const proxy::UsageError& error) {
        const std::string_view message = error.what();
        FUZZ_CHECK(!message.empty());
        FUZZ_CHECK(message.find('\n') == std::string_view::npos);
        return 0;
    } catch (const proxy::InfoRequest& info) {
        FUZZ_CHECK(!info.text.empty());
        return 0;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "parse_options threw %s: %s\n", typeid(error).name(), error.what());
        FUZZ_CHECK(false);
    }
    check_ranges(options);
    const std::vector<std::string> again = to_argv(options);
    try {
        FUZZ_CHECK(same(proxy::parse_options(again), options));
    } catch (const std::exception& error) {
        std::fprintf(stderr, "the options written back are refused: %s\n", error.what());
        FUZZ_CHECK(false);
    }
    return 0;
}
