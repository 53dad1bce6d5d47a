#include "supervisor/worker_argv.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace {

using namespace supervisor;
using supervisor_test::load_ok;
using Argv = std::vector<std::string>;

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
    passive_ports: 50000-50999
    passive_to_server: true
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
                                                                        "--passive-ports",
                                                                        "50000-50999",
                                                                        "--passive-to-server",
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
    EXPECT_EQ(worker_argv(config.global, config.instances.at(0)), (Argv{"/usr/local/sbin/ftp-proxy",
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
                                                                        "-D",
                                                                        "5",
                                                                        "--user",
                                                                        "_ftp_proxy"}));
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
              (Argv{"/usr/local/sbin/ftp-proxy", "--foreground", "--listen-fd", "3", "-b",
                    "127.0.0.1", "-p", "8021", "-m", "100", "-t", "86400", "--data-timeout", "30",
                    "-D", "4", "--user", "_ftp_proxy"}));
}

}  // namespace
