// ftpproxyctl's command line, and the words of its connection errors.
#include "ctl/arguments.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "ctl/client.hpp"

namespace {

using namespace ctl;
using Args = std::vector<std::string>;

std::string usage_error(const Args& args) {
    try {
        parse_arguments(args);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

TEST(Arguments, StatusWithNamesAndJson) {
    const Arguments parsed = parse_arguments({"-s", "/run/x.sock", "status", "ftp01", "--json"});
    EXPECT_EQ(parsed.command, "status");
    EXPECT_EQ(parsed.names, (Args{"ftp01"}));
    EXPECT_TRUE(parsed.json);
    EXPECT_EQ(parsed.socket, "/run/x.sock");
}

TEST(Arguments, InstanceCommandsNeedANameOrAll) {
    EXPECT_EQ(parse_arguments({"restart", "all"}).names, (Args{"all"}));
    EXPECT_EQ(parse_arguments({"drain", "a", "b"}).names, (Args{"a", "b"}));
    EXPECT_EQ(usage_error({"stop"}), "stop needs an instance name, or all (see status)");
}

TEST(Arguments, CheckAndRules) {
    EXPECT_EQ(parse_arguments({"check", "/tmp/f.yaml"}).file, "/tmp/f.yaml");
    EXPECT_FALSE(parse_arguments({"check"}).file.has_value());
    EXPECT_EQ(parse_arguments({"rules", "nftables"}).syntax, "nft");
    EXPECT_EQ(usage_error({"rules", "iptables"}), "rules: unknown syntax \"iptables\" (pf or nft)");
}

// The cluster layer's hooks pass roles as they name them (keepalived:
// MASTER); failover waits a bounded time.
TEST(Arguments, ClusterCommands) {
    const Arguments event = parse_arguments({"carp-event", "MASTER", "198.18.0.1"});
    EXPECT_EQ(event.role, "master");
    EXPECT_EQ(event.subject, "198.18.0.1");
    EXPECT_FALSE(parse_arguments({"carp-event", "fault"}).subject.has_value());
    EXPECT_EQ(parse_arguments({"failover", "--wait", "30"}).wait, 30);
    EXPECT_FALSE(parse_arguments({"failover"}).wait.has_value());
    EXPECT_EQ(parse_arguments({"failback"}).command, "failback");
    const std::string role_error =
        "carp-event takes a role (master, backup or fault) and optionally the VIP or instance it "
        "is about";
    EXPECT_EQ(usage_error({"carp-event"}), role_error);
    EXPECT_EQ(usage_error({"carp-event", "primary"}), role_error);
    EXPECT_EQ(usage_error({"carp-event", "backup", "a", "b"}), role_error);
    EXPECT_EQ(usage_error({"failover", "--wait", "0"}),
              "--wait: \"0\" is not a number of seconds, 1..300");
    EXPECT_EQ(usage_error({"failover", "--wait", "5m"}),
              "--wait: \"5m\" is not a number of seconds, 1..300");
    EXPECT_EQ(usage_error({"status", "--wait", "5"}), "--wait goes with failover only");
    EXPECT_EQ(usage_error({"failback", "now"}), "failback takes no arguments");
}

TEST(Arguments, CheckCompare) {
    const Arguments parsed = parse_arguments({"check", "/tmp/f.yaml", "--compare", "/tmp/peer"});
    EXPECT_EQ(parsed.file, "/tmp/f.yaml");
    EXPECT_EQ(parsed.compare, "/tmp/peer");
    const Arguments no_file = parse_arguments({"--compare", "ab12", "check"});
    EXPECT_FALSE(no_file.file.has_value());
    EXPECT_EQ(no_file.compare, "ab12");
    EXPECT_FALSE(parse_arguments({"check"}).compare.has_value());
    EXPECT_EQ(usage_error({"check", "--compare"}), "--compare needs a value");
    EXPECT_EQ(usage_error({"status", "--compare", "x"}), "--compare goes with check only");
    EXPECT_EQ(usage_error({"check", "a.yaml", "b.yaml"}), "check takes one file");
}

TEST(Arguments, MistakesAreNamed) {
    EXPECT_EQ(usage_error({}), "no command given");
    EXPECT_EQ(usage_error({"statu"}), "unknown command \"statu\"");
    EXPECT_EQ(usage_error({"status", "-x"}), "unknown option \"-x\"");
    EXPECT_EQ(usage_error({"reload", "now"}), "reload takes no arguments");
    EXPECT_EQ(usage_error({"reload", "--json"}), "--json goes with status and sessions only");
    EXPECT_EQ(usage_error({"status", "-s"}), "-s needs a value");
}

TEST(ConnectErrors, SayWhatToDo) {
    EXPECT_EQ(describe_connect_error("/run/f.sock", EACCES),
              "permission denied on /run/f.sock: only root, or members of the group set as "
              "global.control_group in ftpproxy.yaml, may control ftpproxyd. Try again with "
              "sudo.");
    EXPECT_NE(describe_connect_error("/run/f.sock", ENOENT).find("ftpproxyd is not running"),
              std::string::npos);
    EXPECT_NE(describe_connect_error("/run/f.sock", ECONNREFUSED).find("nothing answers"),
              std::string::npos);
}

}  // namespace
