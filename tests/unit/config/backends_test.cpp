// The backend list and 'health_check': what reaches the model, and the
// errors, each naming its line.
#include <gtest/gtest.h>

#include "config/duration.hpp"
#include "config/worker_argv.hpp"
#include "test_support.hpp"

namespace {

using namespace config;
using config_test::load_errors;
using config_test::load_ok;
using std::chrono::milliseconds;

TEST(ConfigBackends, OneOrAListInOrderOfPreference) {
    const Config config = load_ok(R"(instances:
  - {name: one, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - name: two
    listen: "127.0.0.1:8022"
    backend: ["198.19.0.2:2121", ftp.example.org, "[2001:db8::1]:21"]
)");
    EXPECT_EQ(config.instances[0].backends, (std::vector<Backend>{{"198.19.0.1", 21}}));
    EXPECT_EQ(
        config.instances[1].backends,
        (std::vector<Backend>{{"198.19.0.2", 2121}, {"ftp.example.org", 21}, {"2001:db8::1", 21}}));
}

TEST(ConfigBackends, TheWorkerStartsWithTheChosenOne) {
    const Config config = load_ok(R"(instances:
  - {name: two, listen: "127.0.0.1:8022", backend: ["198.19.0.2:2121", "198.19.0.3"]}
)");
    const auto first = worker_argv(config.global, config.instances[0]);
    const auto second = worker_argv(config.global, config.instances[0], 1);
    const auto after = [](const std::vector<std::string>& argv, const std::string& flag) {
        const auto it = std::find(argv.begin(), argv.end(), flag);
        return it == argv.end() || it + 1 == argv.end() ? std::string("(none)") : *(it + 1);
    };
    EXPECT_EQ(after(first, "-R"), "198.19.0.2");
    EXPECT_EQ(after(first, "-P"), "2121");
    EXPECT_EQ(after(second, "-R"), "198.19.0.3");
    EXPECT_EQ(after(second, "-P"), "21");
}

// cluster.handoff: a reverse instance's worker keeps the VIP on its
// client-side sockets (--handoff); a forward one has nothing to hand off.
TEST(ConfigBackends, HandoffReachesReverseWorkersOnly) {
    const Config config = load_ok(R"(instances:
  - {name: rev, listen: "198.18.11.1:21", backend: "198.19.0.2"}
  - {name: fwd, mode: forward, listen: "127.0.0.1:8021"}
)");
    const auto has = [](const std::vector<std::string>& argv) {
        return std::find(argv.begin(), argv.end(), "--handoff") != argv.end();
    };
    EXPECT_FALSE(has(worker_argv(config.global, config.instances[0])));
    EXPECT_TRUE(has(worker_argv(config.global, config.instances[0], 0, true)));
    EXPECT_FALSE(has(worker_argv(config.global, config.instances[1], 0, true)));
}

TEST(ConfigBackends, BadLists) {
    EXPECT_EQ(load_errors(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: []}
  - {name: b, listen: "127.0.0.1:8022", backend: [198.19.0.1, "198.19.0.1:21"]}
  - {name: c, listen: "127.0.0.1:8023", backend: [198.19.0.1, "bad host!"]}
  - {name: d, listen: "127.0.0.1:8024", backend: [1, 2, 3, 4, 5, 6, 7, 8, 9]}
)"),
              (std::vector<std::string>{
                  "test.yaml:2:50: 'backend': a list of 1..8 backends, in order of preference",
                  "test.yaml:3:63: 'backend': 198.19.0.1:21 is listed twice",
                  "test.yaml:4:63: 'backend': \"bad host!\" is neither an IP address nor a host "
                  "name",
                  "test.yaml:5:50: 'backend': a list of 1..8 backends, in order of preference"}));
}

TEST(ConfigHealthCheck, DefaultsAreOn) {
    const Config config = load_ok(R"(instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
)");
    const HealthCheck& check = config.instances[0].health_check;
    EXPECT_TRUE(check.enabled);
    EXPECT_EQ(check.interval, kDefaultHealthInterval);
    EXPECT_EQ(check.timeout, kDefaultHealthTimeout);
    EXPECT_EQ(check.rise, kDefaultHealthRise);
    EXPECT_EQ(check.fall, kDefaultHealthFall);
    EXPECT_EQ(check.user, "");
}

// An instance's map changes only the keys it names; the rest come from
// 'defaults'. `off` turns checks off, a map turns them on again.
TEST(ConfigHealthCheck, InstanceKeysOverDefaults) {
    const Config config = load_ok(R"(defaults:
  health_check: {interval: 500ms, timeout: 300ms, fall: 1}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1}
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1, health_check: {rise: 4, user: anonymous, password: probe@example.org}}
  - {name: c, listen: "127.0.0.1:8023", backend: 198.19.0.1, health_check: off}
)");
    const HealthCheck& a = config.instances[0].health_check;
    EXPECT_EQ(a.interval, milliseconds(500));
    EXPECT_EQ(a.timeout, milliseconds(300));
    EXPECT_EQ(a.fall, 1);
    EXPECT_EQ(a.rise, kDefaultHealthRise);
    const HealthCheck& b = config.instances[1].health_check;
    EXPECT_EQ(b.interval, milliseconds(500));
    EXPECT_EQ(b.rise, 4);
    EXPECT_EQ(b.user, "anonymous");
    EXPECT_EQ(b.password, "probe@example.org");
    EXPECT_FALSE(config.instances[2].health_check.enabled);
}

TEST(ConfigHealthCheck, Errors) {
    EXPECT_EQ(
        load_errors(R"(defaults:
  health_check: {interval: 50ms, timeout: 2 s, rise: 0, fall: 11, colour: red}
instances:
  - {name: a, listen: "127.0.0.1:8021", backend: 198.19.0.1, health_check: {password: x}}
  - {name: b, listen: "127.0.0.1:8022", backend: 198.19.0.1, health_check: {user: "two words"}}
  - {name: c, listen: "127.0.0.1:8023", backend: 198.19.0.1, health_check: sometimes}
)"),
        (std::vector<std::string>{
            "test.yaml:2:28: 'interval': 50ms is out of range (100ms..1h)",
            "test.yaml:2:43: 'timeout': \"2 s\" is not a duration (e.g. 500ms, 2, 2s, 1m)",
            "test.yaml:2:54: 'rise': \"0\" is not a number in 1..10",
            "test.yaml:2:63: 'fall': \"11\" is not a number in 1..10",
            "test.yaml:2:67: unknown key 'colour' (known keys: interval, timeout, rise, fall, "
            "user or password)",
            "test.yaml:4:76: 'health_check': 'password' without 'user'",
            "test.yaml:5:83: 'health_check': 'user' must be one line of printable text "
            "without spaces",
            "test.yaml:6:76: 'health_check' is 'off', 'on' or a map (interval, timeout, "
            "rise, fall, user, password)"}));
}

TEST(Duration, MillisecondsForHealthChecks) {
    EXPECT_EQ(parse_duration_ms("500ms"), milliseconds(500));
    EXPECT_EQ(parse_duration_ms("2s"), milliseconds(2000));
    EXPECT_EQ(parse_duration_ms("2"), milliseconds(2000));
    EXPECT_EQ(parse_duration_ms("1m"), milliseconds(60000));
    EXPECT_EQ(parse_duration_ms("ms"), std::nullopt);
    EXPECT_EQ(parse_duration_ms("1.5s"), std::nullopt);
    EXPECT_EQ(parse_duration("500ms"), std::nullopt);  // the other settings stay in seconds
}

}  // namespace
