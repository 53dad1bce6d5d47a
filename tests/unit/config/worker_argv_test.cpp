#include "config/worker_argv.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace {

using namespace config;
using config_test::load_ok;
using Argv = std::vector<std::string>;

// The relay flags of an instance that sets neither 'relay' nor 'relay_pipe_size'.
Argv default_relay_flags() {
    if (kSpliceAvailable) {
        return {"--relay", "splice", "--relay-pipe-size", "262144"};
    }
    return {"--relay", "copy"};
}

// `head`, the default relay flags, then `tail`.
Argv with_default_relay(Argv head, const Argv& tail) {
    const Argv relay = default_relay_flags();
    head.insert(head.end(), relay.begin(), relay.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

TEST(WorkerArgv, EverySettingBecomesAFlag) {
    const Config config = load_ok(R"(
global: {worker_binary: /opt/fp/ftp-proxy, worker_user: ftpx, log_level: info}
instances:
  - name: ftp01
    listen: 127.0.0.1:8021
    public: 198.18.0.1
    backend: 198.19.0.1:2121
    source: 198.19.0.254
    max_sessions: 300
    idle_timeout: 1h
    data_timeout: 1m
    server_timeout: 10s
    passive_ports: 50000-50999
    passive_to_server: true
    relay: copy
    anonymous_only: true
    log_commands: true
    log_level: debug
)");
    EXPECT_EQ(worker_argv(config.global, config.instances.at(0)), (Argv{"/opt/fp/ftp-proxy",
                                                                        "--foreground",
                                                                        "--listen-fd",
                                                                        "3",
                                                                        "-b",
                                                                        "127.0.0.1",
                                                                        "-p",
                                                                        "8021",
                                                                        "-R",
                                                                        "198.19.0.1",
                                                                        "-P",
                                                                        "2121",
                                                                        "-a",
                                                                        "198.19.0.254",
                                                                        "-m",
                                                                        "300",
                                                                        "-t",
                                                                        "3600",
                                                                        "--data-timeout",
                                                                        "60",
                                                                        "--server-timeout",
                                                                        "10",
                                                                        "--passive-ports",
                                                                        "50000-50999",
                                                                        "--passive-to-server",
                                                                        "--relay",
                                                                        "copy",
                                                                        "-A",
                                                                        "-v",
                                                                        "-D",
                                                                        "7",
                                                                        "--user",
                                                                        "ftpx"}));
}

TEST(WorkerArgv, DefaultsArePassedExplicitly) {
    const Config config = load_ok(R"(
instances:
  - {name: a, listen: "[::]:8021", backend: "[2001:db8::10]"}
)");
    EXPECT_EQ(worker_argv(config.global, config.instances.at(0)),
              with_default_relay({std::string(kDefaultWorkerBinary),
                                  "--foreground",
                                  "--listen-fd",
                                  "3",
                                  "-b",
                                  "::",
                                  "-p",
                                  "8021",
                                  "-R",
                                  "2001:db8::10",
                                  "-P",
                                  "21",
                                  "-m",
                                  "100",
                                  "-t",
                                  "86400",
                                  "--data-timeout",
                                  "30",
                                  "--server-timeout",
                                  "30"},
                                 {"-D", "5", "--user", "_ftp_proxy"}));
}

TEST(WorkerArgv, BackendHostNameIsPassedAsWritten) {
    const Config config = load_ok(R"(
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: "ftp.example.org:2121"}
)");
    const Argv argv = worker_argv(config.global, config.instances.at(0));
    EXPECT_EQ(Argv(argv.begin() + 8, argv.begin() + 12),
              (Argv{"-R", "ftp.example.org", "-P", "2121"}));
}

TEST(WorkerArgv, ForwardModeHasNoServer) {
    const Config config = load_ok(R"(
instances:
  - {name: out, mode: forward, listen: "127.0.0.1:8021", log_level: warning}
)");
    EXPECT_EQ(worker_argv(config.global, config.instances.at(0)),
              with_default_relay({std::string(kDefaultWorkerBinary), "--foreground", "--listen-fd",
                                  "3", "-b", "127.0.0.1", "-p", "8021", "-m", "100", "-t", "86400",
                                  "--data-timeout", "30", "--server-timeout", "30"},
                                 {"-D", "4", "--user", "_ftp_proxy"}));
}

// The relay flags of the instance called `name`, without the rest of argv.
Argv relay_flags(const Config& config, const std::string& name) {
    for (const Instance& instance : config.instances) {
        if (instance.name == name) {
            const Argv argv = worker_argv(config.global, instance);
            const auto begin = std::find(argv.begin(), argv.end(), "--relay");
            const auto end = std::find(argv.begin(), argv.end(), "-D");
            return begin < end ? Argv(begin, end) : Argv{};
        }
    }
    ADD_FAILURE() << "no instance " << name;
    return {};
}

TEST(WorkerArgv, CopyRelayHasNoPipeSize) {
    const Config config = load_ok(R"(
defaults: {relay: copy}
instances:
  - {name: inherited, listen: "127.0.0.1:8021", backend: h}
  - {name: own, listen: "127.0.0.1:8022", backend: h, relay: copy}
)");
    EXPECT_EQ(relay_flags(config, "inherited"), (Argv{"--relay", "copy"}));
    EXPECT_EQ(relay_flags(config, "own"), (Argv{"--relay", "copy"}));
}

TEST(WorkerArgv, SplicePipeSizeFromDefaultsAndInstances) {
    if (!kSpliceAvailable) {
        GTEST_SKIP() << "splice(2) exists only on Linux";
    }
    const Config config = load_ok(R"(
defaults: {relay_pipe_size: 65536}
instances:
  - {name: inherited, listen: "127.0.0.1:8021", backend: h}
  - {name: own, listen: "127.0.0.1:8022", backend: h, relay: splice, relay_pipe_size: 67108864}
  - {name: smallest, listen: "127.0.0.1:8023", backend: h, relay_pipe_size: 4096}
  - {name: copied, listen: "127.0.0.1:8024", backend: h, relay: copy}
)");
    EXPECT_EQ(relay_flags(config, "inherited"),
              (Argv{"--relay", "splice", "--relay-pipe-size", "65536"}));
    EXPECT_EQ(relay_flags(config, "own"),
              (Argv{"--relay", "splice", "--relay-pipe-size", "67108864"}));
    EXPECT_EQ(relay_flags(config, "smallest"),
              (Argv{"--relay", "splice", "--relay-pipe-size", "4096"}));
    // The default pipe size is for splice instances; a copy instance ignores it.
    EXPECT_EQ(relay_flags(config, "copied"), (Argv{"--relay", "copy"}));

    const Config back_to_splice = load_ok(R"(
defaults: {relay: copy}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, relay: splice}
  - {name: b, listen: "127.0.0.1:8022", backend: h, relay: splice, relay_pipe_size: 1048576}
)");
    EXPECT_EQ(relay_flags(back_to_splice, "a"),
              (Argv{"--relay", "splice", "--relay-pipe-size", "262144"}));
    EXPECT_EQ(relay_flags(back_to_splice, "b"),
              (Argv{"--relay", "splice", "--relay-pipe-size", "1048576"}));
}

// data_path: kernel from 'defaults' or the instance; the global mark goes
// with it. relay (the default) passes nothing.
TEST(WorkerArgv, KernelDataPathAndItsMark) {
    const Config config = load_ok(R"(
global: {kernel_mark: 0x2a}
defaults: {data_path: kernel, relay: copy}
instances:
  - {name: inherited, listen: "127.0.0.1:8021", backend: h}
  - {name: relayed, listen: "127.0.0.1:8022", backend: h, data_path: relay}
)");
    EXPECT_EQ(relay_flags(config, "inherited"),
              (Argv{"--relay", "copy", "--data-path", "kernel", "--kernel-mark", "0x0000002a"}));
    EXPECT_EQ(relay_flags(config, "relayed"), (Argv{"--relay", "copy"}));
    const Config defaults = load_ok(R"(
defaults: {relay: copy}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: h, data_path: kernel}
)");
    EXPECT_EQ(relay_flags(defaults, "a"),
              (Argv{"--relay", "copy", "--data-path", "kernel", "--kernel-mark", "0x00465450"}));
}

}  // namespace
