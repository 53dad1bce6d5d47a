// Invalid files: every problem is reported, one line each, at its place.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace {

using config::kSpliceAvailable;
using config_test::load_errors;
using Lines = std::vector<std::string>;

TEST(ConfigErrors, ReportsEveryProblemOfAFileInFileOrder) {
    const Lines errors = load_errors(R"(global:
  firewall: nftables
  log_level: loud
  worker_usr: x
  control_socket: relative/sock
instances:
  - name: ftp01
    lsiten: 127.0.0.1:8021
    listen: 127.0.0.1:8021
    listen: 127.0.0.1:8022
    public: 198.18.0.1:21
    backend: 198.19.0.1:99999
    idle_timeout: 5 min
    max_sessions: 0
    anonymous_only: maybe
    worker_user: bob
  - name: ftp01
    listen: 127.0.0.1:8021
    public: 198.18.0.1
    backend: 300.1.1.1
    passive_ports: 80-90
    mode: sideways
)");
    EXPECT_EQ(
        errors,
        (Lines{
            R"(test.yaml:3:14: 'log_level': "loud" is not a log level (err, warning, notice, info, debug or 0..7))",
            "test.yaml:4:3: unknown key 'worker_usr' (did you mean 'worker_user'?)",
            R"(test.yaml:5:19: 'control_socket': "relative/sock" is not an absolute path)",
            "test.yaml:8:5: unknown key 'lsiten' (did you mean 'listen'?)",
            "test.yaml:10:5: duplicate key 'listen' (first at line 9, column 5)",
            R"(test.yaml:12:14: 'backend': "198.19.0.1:99999" has a bad port (1..65535))",
            R"(test.yaml:13:19: 'idle_timeout': "5 min" is not a duration (e.g. 30, 30s, 5m, 24h, 1d))",
            R"(test.yaml:14:19: 'max_sessions': "0" is not a number in 1..20000)",
            R"(test.yaml:15:21: 'anonymous_only': "maybe" is not true or false)",
            "test.yaml:16:5: unknown key 'worker_user' here (it belongs in 'global')",
            "test.yaml:17:11: instance name 'ftp01' is already used at line 7",
            "test.yaml:18:13: listen port 8021 is already used by instance 'ftp01' (line 9)",
            "test.yaml:19:13: connections to 198.18.0.1:21 already go to instance 'ftp01' "
            "(line 7)",
            R"(test.yaml:20:14: 'backend': "300.1.1.1" is neither an IP address nor a host name)",
            "test.yaml:21:20: 'passive_ports': ports below 1024 need a privilege the worker "
            "gives up after start",
            R"(test.yaml:22:11: 'mode': "sideways" is not one of reverse or forward)",
        }));
}

TEST(ConfigErrors, DuplicateKeysAnywhere) {
    EXPECT_EQ(load_errors("global: {}\ninstances: []\nglobal: {}\n"),
              (Lines{"test.yaml:3:1: duplicate key 'global' (first at line 1, column 1)"}));
    EXPECT_EQ(load_errors("global:\n  log_level: info\n  log_level: debug\ninstances: []\n"),
              (Lines{"test.yaml:3:3: duplicate key 'log_level' (first at line 2, column 3)"}));
    EXPECT_EQ(load_errors("defaults: {max_sessions: 1, max_sessions: 2}\ninstances: []\n"),
              (Lines{"test.yaml:1:29: duplicate key 'max_sessions' (first at line 1, column 12)"}));
}

TEST(ConfigErrors, DocumentShape) {
    EXPECT_EQ(load_errors(""),
              (Lines{"test.yaml:1:1: the file is empty: it needs at least 'instances: []'"}));
    EXPECT_EQ(load_errors("instances: []\n---\ninstances: []\n"),
              (Lines{"test.yaml:3:1: only one YAML document is allowed (remove the '---')"}));
    EXPECT_EQ(load_errors("- a\n"),
              (Lines{"test.yaml:1:1: the top level must be a map of 'global', 'defaults', "
                     "'instances' and 'cluster'"}));
    EXPECT_EQ(load_errors("instance: []\n"),
              (Lines{"test.yaml:1:1: unknown key 'instance' (did you mean 'instances'?)",
                     "test.yaml:1:1: no 'instances' list (write 'instances: []' for none)"}));
    EXPECT_EQ(load_errors("instances:\n"),
              (Lines{R"(test.yaml:2:1: 'instances' must be a list ("- name: ..."; [] for none))"}));
    EXPECT_EQ(load_errors("global: 5\ninstances: [x]\n"),
              (Lines{"test.yaml:1:9: 'global' must be a map of settings",
                     "test.yaml:2:13: an instance must be a map of settings (name, listen, ...)"}));
    EXPECT_EQ(load_errors("global:\n  ? [a, b]\n  : c\ninstances: []\n"),
              (Lines{"test.yaml:2:5: a key must be a plain name, not a list or map"}));
}

TEST(ConfigErrors, UnquotedIpv6BracketsGetAHint) {
    EXPECT_EQ(
        load_errors("instances:\n  - name: a\n    listen: [::1]:8021\n"),
        (Lines{
            R"(test.yaml:3:18: end of map not found (quote an IPv6 address in brackets: "[::1]:8021"))"}));
    EXPECT_EQ(
        load_errors("instances:\n  - {name: a, backend: h, listen: [::1]}\n"),
        (Lines{
            R"(test.yaml:2:35: 'listen' must be a single value, not a list (quote an IPv6 address in brackets: "[::1]:8021"))"}));
}

TEST(ConfigErrors, RequiredKeysAndModes) {
    EXPECT_EQ(load_errors("instances:\n  - mode: reverse\n"),
              (Lines{"test.yaml:2:5: this instance has no 'name'",
                     "test.yaml:2:5: this instance has no 'listen' (e.g. 127.0.0.1:8021)",
                     "test.yaml:2:5: this instance is a reverse proxy but has no 'backend' (e.g. "
                     "192.0.2.10:21)"}));
    EXPECT_EQ(
        load_errors(
            "instances:\n  - {name: f, mode: forward, listen: 127.0.0.1:8021, backend: h}\n"),
        (Lines{"test.yaml:2:63: 'backend' is only for mode reverse: a forward proxy connects to "
               "the server each client asked for"}));
}

TEST(ConfigErrors, FirewallNeedsPublicAddresses) {
    EXPECT_EQ(
        load_errors(R"(global: {firewall: pf}
instances:
  - {name: r, listen: "127.0.0.1:8021", backend: h}
  - {name: f, mode: forward, listen: "127.0.0.1:8022"}
)"),
        (Lines{"test.yaml:3:5: instance 'r' has no 'public' address, which the firewall rules "
               "send to it (e.g. 198.18.0.1:21)",
               "test.yaml:4:5: instance 'f' needs 'interface' or 'public': otherwise the firewall "
               "would divert FTP to every destination on every interface"}));
}

TEST(ConfigErrors, AddressFamiliesMustFit) {
    EXPECT_EQ(
        load_errors(R"(global: {firewall: nftables}
instances:
  - name: v6loop
    listen: "[::1]:8030"
    public: 2001:db8::1
    backend: h
  - name: fam
    listen: 127.0.0.1:8031
    public: 2001:db8::2
    backend: 2001:db8::10
    source: 198.19.0.1
  - name: fam4
    listen: "[::]:8032"
    public: 198.18.0.1
    backend: h
)"),
        (Lines{
            R"(test.yaml:4:13: 'listen' ::1 cannot be reached through nftables (Linux cannot dnat to ::1); listen on "[::]:8030" instead)",
            R"(test.yaml:9:13: 'public' 2001:db8::2 is IPv6 but 'listen' 127.0.0.1 is IPv4: the firewall cannot divert a connection to another family (e.g. listen: "[::]:8031"))",
            "test.yaml:11:13: 'source' 198.19.0.1 is IPv4 but 'backend' 2001:db8::10 is IPv6",
            "test.yaml:14:13: 'public' 198.18.0.1 is IPv4 but 'listen' :: is IPv6: the firewall "
            "cannot divert a connection to another family (e.g. listen: 127.0.0.1:8032)"}));
    // pf can divert to ::1.
    config_test::load_ok(R"(global: {firewall: pf}
instances:
  - {name: v6loop, listen: "[::1]:8030", public: 2001:db8::1, backend: h}
)");
}

TEST(ConfigErrors, BadValues) {
    EXPECT_EQ(
        load_errors(
            R"(global: {control_socket: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, reload_command: /sbin/pfctl, firewall: wall}
instances:
  - {name: "bad name", listen: "1.2.3.4", backend: "h:0", data_timeout: 2h}
  - {name: m, listen: "224.0.0.1:1", public: "0.0.0.0", backend: "h", source: "fe80::1%eth0"}
  - {name: n, listen: "localhost:1", public: "[::1", backend: "b@d:21", interface: eth0eth0eth0eth0}
)"),
        (Lines{
            "test.yaml:1:26: 'control_socket' is longer than 103 bytes, the limit of a unix "
            "socket path",
            "test.yaml:1:149: 'reload_command' must be a list of words, run without a shell (e.g. "
            "[/sbin/pfctl, -f, /etc/pf.conf]; [] for none)",
            R"(test.yaml:1:172: 'firewall': "wall" is not one of nftables, pf or none)",
            R"(test.yaml:3:12: 'name': "bad name" is not a valid name (letters, digits, '_', '.', '-'; at most 32 characters))",
            R"(test.yaml:3:32: 'listen': "1.2.3.4" has no port (e.g. 1.2.3.4:8021))",
            R"(test.yaml:3:52: 'backend': "h:0" has a bad port (1..65535))",
            R"(test.yaml:3:73: 'data_timeout': 2h is out of range (1s..1h))",
            R"(test.yaml:4:23: 'listen': "224.0.0.1:1" is a multicast address)",
            R"(test.yaml:4:46: 'public': "0.0.0.0" is not an address clients can connect to)",
            R"(test.yaml:4:79: 'source': "fe80::1%eth0" is not an IPv4 or IPv6 address)",
            R"(test.yaml:5:23: 'listen': "localhost:1" needs an IPv4 or IPv6 address, not "localhost")",
            R"(test.yaml:5:46: 'public': "[::1" is not ADDRESS:PORT (e.g. 198.18.0.1:21))",
            R"(test.yaml:5:63: 'backend': "b@d:21": "b@d" is neither an IP address nor a host name)",
            R"(test.yaml:5:84: 'interface': "eth0eth0eth0eth0" is not a valid name (letters, digits, '_', '.', '-'; at most 15 characters))",
        }));
}

TEST(ConfigErrors, BadSupervisorSettings) {
    EXPECT_EQ(
        load_errors("global: {drain_timeout: 2d, control_group: \"wheel users\"}\ninstances: []\n"),
        (Lines{
            R"(test.yaml:1:25: 'drain_timeout': 2d is out of range (1s..1d))",
            R"(test.yaml:1:44: 'control_group': "wheel users" is not a valid name (letters, digits, '_', '.', '-'; at most 32 characters))"}));
}

TEST(ConfigErrors, KeysInTheWrongSection) {
    EXPECT_EQ(
        load_errors(R"(defaults:
  listen: 127.0.0.1:8021
  worker_binary: /x
  colour: blue
instances: []
)"),
        (Lines{"test.yaml:2:3: 'listen' cannot be a default: it must differ per instance, "
               "so set it in each instance",
               "test.yaml:3:3: unknown key 'worker_binary' here (it belongs in 'global')",
               "test.yaml:4:3: unknown key 'colour' (known keys: mode, interface, source, "
               "max_sessions, idle_timeout, data_timeout, server_timeout, passive_ports, "
               "anonymous_only, "
               "log_commands, passive_to_server, relay, relay_pipe_size, data_path, log_level, "
               "health_check or tls)"}));
}

TEST(ConfigErrors, SettingsWithoutEffect) {
    EXPECT_EQ(load_errors("global:\n  rules_file: /x\n  pf_syntax: freebsd\ninstances: []\n"),
              (Lines{"test.yaml:2:3: 'rules_file' has no effect with firewall: none (set firewall: "
                     "nftables or pf)",
                     "test.yaml:3:3: 'pf_syntax' has no effect unless firewall: pf"}));
    // A bad firewall value is one error, not three.
    EXPECT_EQ(load_errors("global: {firewall: pff, rules_file: /x}\ninstances: []\n").size(), 1u);
}

TEST(ConfigErrors, KernelDataPathWhereItIsNotBuilt) {
    EXPECT_EQ(
        load_errors(R"(global: {firewall: pf, kernel_mark: 0}
instances:
  - {name: a, listen: "127.0.0.1:8021", public: 198.18.0.1, backend: h, data_path: kernel}
  - {name: b, mode: forward, listen: "127.0.0.1:8022", interface: em0, data_path: kernel}
  - {name: c, listen: "127.0.0.1:8023", public: 198.18.0.3, backend: h, data_path: kernal}
)"),
        (Lines{
            R"(test.yaml:1:37: 'kernel_mark': "0" is not a nonzero 32-bit conntrack mark )"
            "(decimal or 0x hexadecimal, e.g. 0x00465450)",
            "test.yaml:3:84: 'data_path': kernel needs nftables (Linux); with firewall: pf the "
            "workers relay (data_path: relay)",
            "test.yaml:4:83: 'data_path': kernel needs nftables (Linux); with firewall: pf the "
            "workers relay (data_path: relay)",
            R"(test.yaml:5:84: 'data_path': "kernal" is not one of relay or kernel)",
        }));
}

TEST(ConfigErrors, MetricsListenNeedsAnIpAndAPort) {
    for (const char* bad : {"localhost:9121", "127.0.0.1", "127.0.0.1:0", "fd18::1:9121"})
        EXPECT_EQ(
            load_errors(std::string("global: {metrics_listen: \"") + bad + "\"}\ninstances: []\n"),
            (Lines{std::string("test.yaml:1:26: 'metrics_listen': \"") + bad +
                   "\" is not an IP ADDRESS:PORT (e.g. 127.0.0.1:9121)"}))
            << bad;
}

TEST(ConfigErrors, BadRelayValues) {
    EXPECT_EQ(
        load_errors(R"(defaults:
  relay: zerocopy
  relay_pipe_size: 4095
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, relay_pipe_size: 67108865}
  - {name: b, listen: "127.0.0.1:8022", backend: h, relay_pipe_size: 1m}
  - {name: c, listen: "127.0.0.1:8023", backend: h, relay: Copy}
  - {name: d, listen: "127.0.0.1:8024", backend: h, relay: [copy]}
  - {name: e, listen: "127.0.0.1:8025", backend: h, relai: copy}
)"),
        (Lines{
            R"(test.yaml:2:10: 'relay': "zerocopy" is not one of splice or copy)",
            R"(test.yaml:3:20: 'relay_pipe_size': "4095" is not a number in 4096..67108864)",
            R"(test.yaml:5:70: 'relay_pipe_size': "67108865" is not a number in 4096..67108864)",
            R"(test.yaml:6:70: 'relay_pipe_size': "1m" is not a number in 4096..67108864)",
            R"(test.yaml:7:60: 'relay': "Copy" is not one of splice or copy)",
            "test.yaml:8:60: 'relay' must be a single value, not a list (quote an IPv6 address "
            R"(in brackets: "[::1]:8021"))",
            "test.yaml:9:53: unknown key 'relai' (did you mean 'relay'?)",
        }));
}

TEST(ConfigErrors, RelayPipeSizeNeedsSplice) {
    EXPECT_EQ(load_errors(R"(defaults:
  relay: copy
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, relay_pipe_size: 65536}
  - name: b
    listen: 127.0.0.1:8022
    backend: h
    relay: copy
    relay_pipe_size: 65536
)"),
              (Lines{"test.yaml:4:70: 'relay_pipe_size' has no effect with 'relay': copy (line 2): "
                     "only splice uses a pipe",
                     "test.yaml:9:22: 'relay_pipe_size' has no effect with 'relay': copy (line 8): "
                     "only splice uses a pipe"}));
    // Both in 'defaults': one error, however many instances inherit them.
    EXPECT_EQ(load_errors(R"(defaults: {relay: copy, relay_pipe_size: 65536}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h}
  - {name: b, listen: "127.0.0.1:8022", backend: h}
)"),
              (Lines{"test.yaml:1:42: 'relay_pipe_size' has no effect with 'relay': copy (line "
                     "1): only splice uses a pipe"}));
    // A bad relay is reported alone, not as a conflict too.
    EXPECT_EQ(load_errors(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, relay: cp, relay_pipe_size: 65536}
)"),
              (Lines{R"(test.yaml:2:60: 'relay': "cp" is not one of splice or copy)"}));
}

TEST(ConfigErrors, RelaySpliceOnlyOnLinux) {
    const char* yaml = R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, relay: splice}
  - {name: b, listen: "127.0.0.1:8022", backend: h, relay_pipe_size: 65536}
)";
    if (kSpliceAvailable) {
        config_test::load_ok(yaml);
    } else {
        EXPECT_EQ(load_errors(yaml),
                  (Lines{"test.yaml:2:60: 'relay': splice(2) exists only on Linux (use relay: "
                         "copy)",
                         "test.yaml:3:70: 'relay_pipe_size' has no effect with 'relay': copy (the "
                         "default here: splice(2) exists only on Linux): only splice uses a "
                         "pipe"}));
    }
}

TEST(ConfigErrors, PassiveRangeMustNotCoverAListenPort) {
    EXPECT_EQ(load_errors(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h}
  - {name: b, listen: "127.0.0.1:9021", backend: h, passive_ports: 8000-8999}
)"),
              (Lines{"test.yaml:3:68: 'passive_ports' 8000-8999 include listen port 8021 of "
                     "instance 'a'"}));
}

TEST(ConfigErrors, BadDefaultIsReportedOnceNotPerInstance) {
    EXPECT_EQ(load_errors(R"(defaults: {max_sessions: lots}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h}
  - {name: b, listen: "127.0.0.1:8022", backend: h}
)"),
              (Lines{R"(test.yaml:1:26: 'max_sessions': "lots" is not a number in 1..20000)"}));
}

TEST(ConfigErrors, AliasExpansionIsBounded) {
    // Six levels of ten aliases each expand to a million nodes.
    std::string yaml = "instances: []\nglobal: {}\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int level = 1; level <= 6; ++level) {
        const std::string alias = "*a" + std::to_string(level - 1);
        yaml += "x" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
        for (int i = 0; i < 10; ++i) {
            yaml += (i > 0 ? ", " : "") + alias;
        }
        yaml += "]\n";
    }
    const Lines errors = load_errors(yaml);
    EXPECT_EQ(
        std::count_if(errors.begin(), errors.end(),
                      [](const std::string& line) {
                          return line.ends_with(": the document is too large or too deeply nested");
                      }),
        1);
}

// Found by tests/fuzz/config_fuzz: a message quoting the file's text (here a
// key with a newline and a terminal escape, or the bad byte yaml-cpp reports)
// printed it raw, so one error spanned lines and could clear the terminal of
// whoever ran `ftpproxyctl check`.
TEST(ConfigErrors, ControlBytesInMessagesAreEscaped) {
    EXPECT_EQ(
        load_errors("\"k\\n\\x1b[2J\\t\": 1\ninstances: []\n"),
        (Lines{
            R"(test.yaml:1:1: unknown key 'k\n\x1b[2J\t' (known keys: global, defaults, instances or cluster))"}));
    EXPECT_EQ(load_errors("instances: \"x\\\x01\"\n"),
              (Lines{R"(test.yaml:1:16: unknown escape character: \x01)"}));
}

// Found by tests/fuzz/config_fuzz: yaml-cpp's LoadAll never returns on a ','
// outside [] or {} (it yields empty documents at that place until memory runs
// out), so a stray comma in ftpproxy.yaml took ftpproxyd down on reload.
TEST(ConfigErrors, StrayCommaIsAnErrorNotAnEndlessStreamOfDocuments) {
    const std::string message = "a ',' outside [...] or {...}: commas separate items only there";
    EXPECT_EQ(load_errors(","), (Lines{"test.yaml:1:1: " + message}));
    EXPECT_EQ(load_errors("{instances: []},"), (Lines{"test.yaml:1:16: " + message}));
    EXPECT_EQ(load_errors("[a]\n,\n"), (Lines{"test.yaml:2:1: " + message}));
    EXPECT_EQ(load_errors("instances: []\n---\ninstances: []\n---\nx: 1\n"),
              (Lines{"test.yaml:3:1: only one YAML document is allowed (remove the '---')"}));
}

}  // namespace
