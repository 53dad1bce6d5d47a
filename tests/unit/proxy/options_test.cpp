#include "proxy/options.hpp"

#include <gtest/gtest.h>

namespace proxy {
namespace {

Options parse(std::vector<std::string> args) {
    return parse_options(args);
}

std::string usage_error(std::vector<std::string> args) {
    try {
        parse_options(args);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Options, DefaultsAreOpenBsds) {
    auto o = parse({});
    EXPECT_EQ(o.listen_address, "127.0.0.1");
    EXPECT_EQ(o.listen_port, 8021);
    EXPECT_EQ(o.server_port, 21);
    EXPECT_EQ(o.max_sessions, 100);
    EXPECT_EQ(o.idle_timeout, std::chrono::seconds(86400));
    EXPECT_EQ(o.log_level, 5);
    EXPECT_FALSE(o.reverse_host);
    EXPECT_FALSE(o.debug);
    EXPECT_EQ(o.user, "_ftp_proxy");
}

TEST(Options, Ipv6ChangesTheListenDefault) {
    EXPECT_EQ(parse({"-6"}).listen_address, "::1");
    EXPECT_EQ(parse({"-6", "-b", "::"}).listen_address, "::");
}

TEST(Options, OpenBsdFlagsInTheirUsualForms) {
    auto o = parse({"-D7", "-dv", "-A",  "-R", "10.10.10.50", "-P", "2121", "-p", "8022",   "-m",
                    "500", "-t",  "600", "-a", "198.18.0.1",  "-q", "ftpq", "-T", "ftptag", "-r"});
    EXPECT_EQ(o.log_level, 7);
    EXPECT_TRUE(o.debug);
    EXPECT_TRUE(o.verbose);
    EXPECT_TRUE(o.anonymous_only);
    EXPECT_EQ(o.reverse_host, "10.10.10.50");
    EXPECT_EQ(o.server_port, 2121);
    EXPECT_EQ(o.listen_port, 8022);
    EXPECT_EQ(o.max_sessions, 500);
    EXPECT_EQ(o.idle_timeout, std::chrono::seconds(600));
    EXPECT_EQ(o.source_address, "198.18.0.1");
    EXPECT_EQ(o.queue, "ftpq");
    EXPECT_EQ(o.tag, "ftptag");
    EXPECT_TRUE(o.data_from_port_20);
}

TEST(Options, LongOptions) {
    auto o = parse({"--passive-to-server", "--data-timeout", "5", "--passive-ports", "50000-50100",
                    "--listen-fd", "3", "--control-fd", "4", "--foreground", "--user", "nobody"});
    EXPECT_TRUE(o.passive_to_server);
    EXPECT_EQ(o.data_timeout, std::chrono::seconds(5));
    EXPECT_EQ(o.passive_ports.low, 50000);
    EXPECT_EQ(o.passive_ports.high, 50100);
    EXPECT_EQ(o.listen_fd, 3);
    EXPECT_EQ(o.control_fd, 4);
    EXPECT_TRUE(o.foreground);
    EXPECT_EQ(o.user, "nobody");
}

// boost's own error text would loop forever on these (found by fuzzing).
TEST(Options, BoostMessagePlaceholdersAreRefusedNotLoopedOn) {
    const std::string error = usage_error({"--fo%original_token%n-f=", "6"});
    EXPECT_EQ(error,
              "argument \"--fo%original_token%n-f=\" contains \"%original_token%\", which no "
              "option or value may contain");
}

TEST(Options, BadValuesNameTheFlag) {
    EXPECT_EQ(usage_error({"-p", "80x"}), "-p: \"80x\" is not a port (1..65535)");
    EXPECT_EQ(usage_error({"-P", "0"}), "-P: \"0\" is not a port (1..65535)");
    EXPECT_EQ(usage_error({"-D", "8"}), "-D: \"8\" is not a log level (0..7)");
    EXPECT_EQ(usage_error({"-m", "0"}), "-m: \"0\" is not a number of sessions (1..20000)");
    EXPECT_EQ(usage_error({"-t", "-5"}), "-t: \"-5\" is not a timeout in seconds (1..31536000)");
    EXPECT_EQ(usage_error({"--passive-ports", "2000-1000"}),
              "--passive-ports: \"2000-1000\" must be LOW-HIGH with 1024 <= LOW <= HIGH");
    EXPECT_EQ(usage_error({"--passive-ports", "5000"}),
              "--passive-ports: \"5000\" is not a range LOW-HIGH");
    EXPECT_EQ(usage_error({"-q", "averyveryverylongqueue"}),
              "-q: queue name \"averyveryverylongqueue\" is longer than 15 characters");
}

// --handoff: the client-side sockets of a reverse proxy keep a moved VIP.
TEST(Options, HandoffIsForReverseMode) {
    EXPECT_FALSE(parse({"-R", "198.18.12.21"}).handoff);
#ifdef __linux__
    EXPECT_TRUE(parse({"-R", "198.18.12.21", "--handoff"}).handoff);
#endif
    EXPECT_EQ(usage_error({"--handoff"}),
              "--handoff: only reverse mode (-R) has sessions addressed to a shared address");
}

TEST(Options, UnknownFlagsMissingValuesAndStrayArgumentsAreErrors) {
    EXPECT_NE(usage_error({"-x"}).find("-x"), std::string::npos);
    EXPECT_NE(usage_error({"-p"}).find("-p"), std::string::npos);
    EXPECT_NE(usage_error({"-R", "10.0.0.1", "extra"}), "(no error)");
    // No prefix guessing: --passive is not --passive-to-server.
    EXPECT_NE(usage_error({"--passive"}), "(no error)");
}

TEST(Options, ClientTlsFlags) {
    const std::string r = "198.18.12.21";
    auto plain = parse({"-R", r});
    EXPECT_EQ(plain.client_tls, "off");
    EXPECT_FALSE(plain.tls_cert);
    EXPECT_EQ(plain.tls_timeout, kDefaultTlsTimeout);
    auto one_file = parse({"-R", r, "--tls-cert", "/etc/p.pem"});
    EXPECT_EQ(one_file.client_tls, "optional");
    EXPECT_EQ(one_file.tls_key, "/etc/p.pem");  // key and certificate in one PEM file
    auto required = parse({"-R", r, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--client-tls",
                           "required", "--tls-timeout", "5"});
    EXPECT_EQ(required.client_tls, "required");
    EXPECT_EQ(required.tls_key, "k.pem");
    EXPECT_EQ(required.tls_timeout, std::chrono::seconds(5));
    EXPECT_EQ(parse({"-R", r, "--tls-cert", "c.pem", "--client-tls", "off"}).client_tls, "off");
    EXPECT_EQ(usage_error({"-R", r, "--client-tls", "optional"}),
              "--client-tls optional: needs a certificate (--tls-cert)");
    EXPECT_EQ(usage_error({"-R", r, "--tls-key", "k.pem"}), "--tls-key: needs --tls-cert");
    EXPECT_EQ(usage_error({"-R", r, "--tls-cert", "c.pem", "--client-tls", "on"}),
              "--client-tls: \"on\" is not one of off, optional, required");
    EXPECT_EQ(required.client_tls_reuse, "optional");
    EXPECT_EQ(
        parse({"-R", r, "--tls-cert", "c.pem", "--client-tls-reuse", "required"}).client_tls_reuse,
        "required");
    EXPECT_EQ(usage_error({"-R", r, "--tls-cert", "c.pem", "--client-tls-reuse", "always"}),
              "--client-tls-reuse: \"always\" is not one of optional, required");
    EXPECT_EQ(usage_error({"-R", r, "--client-tls-reuse", "required"}),
              "--client-tls-reuse required: no TLS toward clients (--tls-cert, --client-tls)");
    EXPECT_EQ(usage_error({"--tls-cert", "c.pem"}),
              "--tls-cert: explicit FTPS toward clients needs reverse mode (-R); forward mode "
              "refuses AUTH");
}

TEST(Options, ServerTlsFlags) {
    const std::string r = "198.18.12.21";
    EXPECT_EQ(parse({"-R", r}).server_tls, "off");
    auto checked = parse({"-R", r, "--server-tls", "required", "--server-tls-ca", "/etc/ca.pem",
                          "--server-tls-name", "ftp.example.org"});
    EXPECT_EQ(checked.server_tls, "required");
    EXPECT_EQ(checked.server_tls_ca, "/etc/ca.pem");
    EXPECT_EQ(checked.server_tls_name, "ftp.example.org");
    const std::string pin =
        "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:"
        "67:89";
    EXPECT_EQ(parse({"-R", r, "--server-tls", "auto", "--server-tls-fingerprint", pin})
                  .server_tls_fingerprint,
              pin);
    EXPECT_EQ(usage_error({"-R", r, "--server-tls", "yes"}),
              "--server-tls: \"yes\" is not one of off, auto, required");
    EXPECT_EQ(usage_error({"-R", r, "--server-tls-ca", "ca.pem"}),
              "--server-tls-ca: needs --server-tls auto or required");
    EXPECT_EQ(usage_error({"-R", r, "--server-tls", "off", "--server-tls-name", "x"}),
              "--server-tls-name: needs --server-tls auto or required");
    EXPECT_EQ(usage_error({"-R", r, "--server-tls", "auto", "--server-tls-fingerprint", "abcd"}),
              "--server-tls-fingerprint: \"abcd\" is not a SHA-256 fingerprint (64 hex digits, "
              "colons allowed)");
    EXPECT_EQ(usage_error({"-R", r, "--server-tls", "auto", "--server-tls-ca", "ca.pem",
                           "--server-tls-fingerprint", pin}),
              "--server-tls-ca: a pinned certificate (--server-tls-fingerprint) is checked by its "
              "fingerprint alone; give one of the two");
    EXPECT_EQ(usage_error({"--server-tls", "auto"}),
              "--server-tls auto: TLS toward the server needs reverse mode (-R), where the server "
              "and its certificate are known");
}

TEST(Options, ImplicitTlsNeedsACertificate) {
    const std::string r = "198.18.12.21";
    EXPECT_TRUE(parse({"-R", r, "--tls-cert", "c.pem", "--tls-implicit"}).tls_implicit);
    EXPECT_FALSE(parse({"-R", r}).tls_implicit);
    EXPECT_EQ(usage_error({"-R", r, "--tls-implicit"}),
              "--tls-implicit: needs a certificate (--tls-cert)");
    EXPECT_EQ(
        usage_error({"-R", r, "--tls-cert", "c.pem", "--client-tls", "off", "--tls-implicit"}),
        "--tls-implicit: every session is TLS; --client-tls off contradicts it");
}

TEST(Options, TlsVersionAndCiphersNeedSomeTls) {
    const std::string r = "198.18.12.21";
    auto defaults = parse({"-R", r, "--tls-cert", "c.pem"});
    EXPECT_EQ(defaults.tls_min_version, "1.2");
    EXPECT_EQ(defaults.tls_ciphers, "");
    auto tuned = parse({"-R", r, "--server-tls", "auto", "--tls-min-version", "1.3",
                        "--tls-ciphers", "ECDHE+AESGCM"});
    EXPECT_EQ(tuned.tls_min_version, "1.3");
    EXPECT_EQ(tuned.tls_ciphers, "ECDHE+AESGCM");
    EXPECT_EQ(usage_error({"-R", r, "--tls-cert", "c.pem", "--tls-min-version", "1.1"}),
              "--tls-min-version: \"1.1\" is not one of 1.2, 1.3");
    EXPECT_EQ(usage_error({"-R", r, "--tls-ciphers", "ECDHE"}),
              "--tls-ciphers: no TLS is configured (--tls-cert or --server-tls)");
}

TEST(Options, RelayModeAndPipeSize) {
    auto defaults = parse({});
    EXPECT_EQ(defaults.relay_splice, Options::splice_available());
    EXPECT_EQ(defaults.relay_pipe_size, 256u * 1024);
    EXPECT_FALSE(parse({"--relay", "copy"}).relay_splice);
    if (Options::splice_available()) {
        auto o = parse({"--relay", "splice", "--relay-pipe-size", "1048576"});
        EXPECT_TRUE(o.relay_splice);
        EXPECT_EQ(o.relay_pipe_size, 1048576u);
    } else {
        EXPECT_EQ(usage_error({"--relay", "splice"}),
                  "--relay splice: splice(2) exists only on Linux; use --relay copy");
    }
    EXPECT_EQ(usage_error({"--relay", "zerocopy"}),
              "--relay: \"zerocopy\" is not one of splice, copy");
    EXPECT_EQ(usage_error({"--relay-pipe-size", "4095"}),
              "--relay-pipe-size: \"4095\" is not a pipe size in bytes (4096..67108864)");
    EXPECT_EQ(usage_error({"--relay", "copy", "--relay-pipe-size", "65536"}),
              "--relay-pipe-size: only the splice relay uses a pipe (--relay copy was given or "
              "splice is not available)");
}

TEST(Options, DataPathAndKernelMark) {
    EXPECT_FALSE(parse({"-R", "198.18.12.21"}).kernel_data_path);
#ifdef __linux__
    const auto kernel = parse({"-R", "198.18.12.21", "--data-path", "kernel"});
    EXPECT_TRUE(kernel.kernel_data_path);
    EXPECT_EQ(kernel.kernel_mark, 0x00465450u);
    EXPECT_EQ(
        parse({"-R", "198.18.12.21", "--data-path", "kernel", "--kernel-mark", "0x2a"}).kernel_mark,
        42u);
    EXPECT_EQ(
        parse({"-R", "198.18.12.21", "--data-path", "kernel", "--kernel-mark", "7"}).kernel_mark,
        7u);
    // Forward mode too (its default firewall is nftables on Linux).
    EXPECT_TRUE(parse({"--data-path", "kernel"}).kernel_data_path);
    EXPECT_EQ(usage_error({"--data-path", "kernel", "--firewall", "none"}),
              "--data-path kernel: the firewall must translate the data connections, and only "
              "nftables does so far (--firewall none was given)");
    // Reverse mode takes --firewall nftables with the kernel path (it NATs).
    EXPECT_TRUE(parse({"-R", "198.18.12.21", "--data-path", "kernel", "--firewall", "nftables"})
                    .kernel_data_path);
    EXPECT_EQ(usage_error({"-R", "198.18.12.21", "--data-path", "kernel", "--firewall", "pf"}),
              "--data-path kernel: the firewall must translate the data connections, and only "
              "nftables does so far (--firewall pf was given)");
#endif
    EXPECT_FALSE(parse({"-R", "198.18.12.21", "--data-path", "relay"}).kernel_data_path);
    EXPECT_EQ(usage_error({"-R", "198.18.12.21", "--data-path", "fast"}),
              "--data-path: \"fast\" is not one of relay, kernel");
    EXPECT_EQ(usage_error({"-R", "198.18.12.21", "--kernel-mark", "5"}),
              "--kernel-mark: only the kernel data path marks connections (--data-path kernel)");
    for (const char* bad : {"0", "0x", "-1", "0x100000000", "mark", "12a"})
        EXPECT_EQ(
            usage_error({"-R", "198.18.12.21", "--data-path", "kernel", "--kernel-mark", bad}),
            std::string("--kernel-mark: \"") + bad +
                "\" is not a nonzero 32-bit mark (decimal or 0x hexadecimal)")
            << bad;
    EXPECT_EQ(usage_error({"-R", "198.18.12.21", "--firewall", "nftables"}),
              "--firewall nftables: reverse mode (-R) needs no firewall state; data connections "
              "go to the proxy's own address (unless --data-path kernel)");
}

TEST(Options, HelpAndVersionAreInformation) {
    EXPECT_THROW(parse({"--help"}), InfoRequest);
    EXPECT_THROW(parse({"--version"}), InfoRequest);
}

// Found by tests/fuzz/worker_options_fuzz: `--chroot ""` was taken, and an
// empty chroot directory means no chroot at all (no message); "--chroot="
// was refused by boost's own words. Every flag now refuses an empty value.
TEST(Options, EmptyValuesAreRefused) {
    EXPECT_EQ(usage_error({"--chroot", ""}), "--chroot: the value is empty");
    EXPECT_EQ(usage_error({"--user", ""}), "--user: the value is empty");
    EXPECT_EQ(usage_error({"-b", ""}), "--bind: the value is empty");
    EXPECT_EQ(usage_error({"-R", "", "-p", "21"}), "--reverse: the value is empty");
    EXPECT_NE(usage_error({"--chroot="}), "(no error)");
}

// Found by tests/fuzz/worker_options_fuzz: boost's message for an unknown
// option never came back (and grew without bound) when the option contained
// "%original_token%", so such a typo hung ftp-proxy at start.
TEST(Options, UnknownOptionMessageIsOurs) {
    EXPECT_EQ(usage_error({"--fo%original_token%n-fd"}),
              "unknown option \"--fo%original_token%n-fd\"");
    EXPECT_EQ(usage_error({"--%canonical_option%"}), "unknown option \"--%canonical_option%\"");
    EXPECT_EQ(usage_error({"-x"}), "unknown option \"-x\"");
}

}  // namespace
}  // namespace proxy
