// ftpproxyctl's output: the status table, its summary line, the exit code,
// and the answers to commands, from fixed JSON answers of ftpproxyd.
#include "ctl/render.hpp"

#include <gtest/gtest.h>

#include "ctl/exit_codes.hpp"

namespace {

using namespace ctl;
using nlohmann::json;

json sample_status() {
    return json::parse(R"json({
      "ok": true,
      "supervisor": {"pid": 100, "config": "/etc/ftpproxy/ftpproxy.yaml", "uptime": 4000,
                     "reloading": false, "shutting_down": false},
      "firewall": {"type": "nftables", "rules_file": "/etc/ftpproxy/ftpproxy.nft",
                   "ok": true, "message": "wrote ...", "ago": 300},
      "instances": [
        {"name": "ftp01", "state": "RUNNING", "pid": 4242, "uptime": 7384,
         "listen": "127.0.0.1:8021", "public": "198.18.0.1:21", "backend": "198.19.0.1:21",
         "sessions": 3, "restarts": 0, "last_exit": null},
        {"name": "ftp02-long-name", "state": "BACKOFF", "pid": null, "uptime": null,
         "listen": "[::]:8022", "public": "[2001:db8::2]:21", "backend": "files.example.org:2121",
         "sessions": null, "restarts": 4,
         "last_exit": {"reason": "exit 68 (backend name unresolvable)", "ago": 2}}
      ],
      "old_workers": [{"name": "ftp01", "pid": 4000, "uptime": 9000, "sessions": 2,
                       "deadline_in": 200}]
    })json");
}

TEST(FormatDuration, PicksTwoUnits) {
    EXPECT_EQ(format_duration(0), "0s");
    EXPECT_EQ(format_duration(59), "59s");
    EXPECT_EQ(format_duration(60), "1m00s");
    EXPECT_EQ(format_duration(725), "12m05s");
    EXPECT_EQ(format_duration(7384), "2h03m");
    EXPECT_EQ(format_duration(2 * 86400 + 4 * 3600 + 59), "2d04h");
    EXPECT_EQ(format_duration(-5), "0s");
}

TEST(RenderStatus, FixedColumnsAlignedThenASummary) {
    EXPECT_EQ(render_status(sample_status()),
              "NAME             STATE    PID   UPTIME  LISTEN          PUBLIC            "
              "BACKEND                 SESSIONS  RESTARTS  LAST-EXIT\n"
              "ftp01            RUNNING  4242  2h03m   127.0.0.1:8021  198.18.0.1:21     "
              "198.19.0.1:21           3         0         -\n"
              "ftp02-long-name  BACKOFF  -     -       [::]:8022       [2001:db8::2]:21  "
              "files.example.org:2121  -         4         exit 68 (backend name "
              "unresolvable), 2s ago\n"
              "2 instances: 1 running, 1 backoff; 1 old worker draining (2 sessions); "
              "firewall: nftables rules loaded 5m00s ago\n");
}

// The backend column shows the one new sessions go to (one word, as every
// column, for scripts); a line under the table names each backend that is
// down, and why.
TEST(RenderStatus, BackendHealth) {
    json status = sample_status();
    status["instances"][0]["backend"] = "198.19.0.2:21";
    status["instances"][0]["backends"] = json::parse(R"json([
        {"address": "198.19.0.1:21", "health": "down", "in_state": 125,
         "detail": "connect 198.19.0.1:21: Connection refused",
         "reason": "connect 198.19.0.1:21: Connection refused", "checks": 70, "failures": 63},
        {"address": "198.19.0.2:21", "health": "up", "in_state": 3000, "detail": "220 after 2 ms",
         "reason": null, "checks": 70, "failures": 0}])json");
    status["instances"][1]["backends"] =
        json::parse(R"json([{"address": "files.example.org:2121", "health": "unchecked"}])json");
    EXPECT_EQ(render_status(status),
              "NAME             STATE    PID   UPTIME  LISTEN          PUBLIC            "
              "BACKEND                 SESSIONS  RESTARTS  LAST-EXIT\n"
              "ftp01            RUNNING  4242  2h03m   127.0.0.1:8021  198.18.0.1:21     "
              "198.19.0.2:21           3         0         -\n"
              "ftp02-long-name  BACKOFF  -     -       [::]:8022       [2001:db8::2]:21  "
              "files.example.org:2121  -         4         exit 68 (backend name "
              "unresolvable), 2s ago\n"
              "ftp01: backend 198.19.0.1:21 down for 2m05s: connect 198.19.0.1:21: Connection "
              "refused\n"
              "2 instances: 1 running, 1 backoff; 1 old worker draining (2 sessions); "
              "firewall: nftables rules loaded 5m00s ago\n");
}

// The running file and its digest, on a line of its own above the summary
// (which stays the last line); none from an ftpproxyd without the digest.
TEST(RenderStatus, ConfigDigest) {
    json status = sample_status();
    status["instances"].erase(1);
    status["supervisor"]["config_digest"] =
        "283f2dd5b64488f3f069e024136a02ef878b054a53b3187157548857234d9817";
    EXPECT_EQ(render_status(status),
              "NAME   STATE    PID   UPTIME  LISTEN          PUBLIC         BACKEND        "
              "SESSIONS  RESTARTS  LAST-EXIT\n"
              "ftp01  RUNNING  4242  2h03m   127.0.0.1:8021  198.18.0.1:21  198.19.0.1:21  3   "
              "      0         -\n"
              "config: /etc/ftpproxy/ftpproxy.yaml, sha256 "
              "283f2dd5b64488f3f069e024136a02ef878b054a53b3187157548857234d9817\n"
              "1 instance: 1 running; 1 old worker draining (2 sessions); firewall: nftables "
              "rules loaded 5m00s ago\n");
}

// The session handoff's routes, or why it is not in place; no line when off.
TEST(RenderStatus, Handoff) {
    json status = sample_status();
    status["instances"].erase(1);
    const std::string table = render_status(status);
    const auto with = [&](json handoff) {
        status["node"]["handoff"] = std::move(handoff);
        std::string text = render_status(status);
        const auto summary = text.rfind("1 instance:");
        return text.substr(0, summary).substr(table.rfind("1 instance:"));
    };
    EXPECT_EQ(with(nullptr), "");
    EXPECT_EQ(with({{"installed", true},
                    {"error", nullptr},
                    {"routes",
                     {{{"vip", "198.18.11.1"}, {"peer", "198.18.11.12"}, {"interface", "lan"}}}}}),
              "handoff: 198.18.11.1 -> 198.18.11.12 (lan)\n");
    EXPECT_EQ(with({{"installed", false},
                    {"error", "none of cluster.handoff.nodes (a, b) is an address of this node"},
                    {"routes", json::array()}}),
              "handoff: NOT IN PLACE: none of cluster.handoff.nodes (a, b) is an address of "
              "this node\n");
}

// The node's fitness and what was done about it, in the summary.
TEST(RenderSummary, NodeFitnessAndDemotion) {
    json status = sample_status();
    status["node"] = {{"fit", true},      {"reason", nullptr}, {"demotion", "none"},
                      {"demoted", false}, {"demoted_for", 30}, {"error", nullptr}};
    EXPECT_EQ(render_summary(status),  // no cluster layer: the verdict is only in --json
              "2 instances: 1 running, 1 backoff; 1 old worker draining (2 sessions); "
              "firewall: nftables rules loaded 5m00s ago");
    status["node"] = {{"fit", false},
                      {"reason", "ftp02 is BACKOFF"},
                      {"demotion", "keepalived"},
                      {"demoted", true},
                      {"demoted_for", 12},
                      {"error", nullptr}};
    EXPECT_EQ(render_summary(status),
              "2 instances: 1 running, 1 backoff; 1 old worker draining (2 sessions); "
              "firewall: nftables rules loaded 5m00s ago; node: NOT FIT (ftp02 is BACKOFF), "
              "demoted (keepalived) 12s ago");
    status["node"]["demoted"] = false;
    status["node"]["error"] = "write 1 to /run/x/track: No such file or directory";
    EXPECT_EQ(render_summary(status),
              "2 instances: 1 running, 1 backoff; 1 old worker draining (2 sessions); "
              "firewall: nftables rules loaded 5m00s ago; node: NOT FIT (ftp02 is BACKOFF), "
              "not demoted (keepalived) 12s ago; demotion FAILED: write 1 to /run/x/track: No "
              "such file or directory");
}

TEST(RenderSummary, NamesWhatNeedsAttention) {
    json status = sample_status();
    status["firewall"]["ok"] = false;
    status["firewall"]["message"] = "wrote X, but `/usr/sbin/nft -f X` failed (exit 1): syntax";
    status["supervisor"]["last_reload"] = {
        {"ok", false}, {"ago", 65}, {"error", "1 error(s) in /etc/ftpproxy/ftpproxy.yaml"}};
    status["old_workers"][0]["sessions"] = nullptr;
    EXPECT_EQ(render_summary(status),
              "2 instances: 1 running, 1 backoff; 1 old worker draining; firewall: nftables "
              "FAILED: wrote X, but `/usr/sbin/nft -f X` failed (exit 1): syntax; last reload "
              "(1m05s ago) failed: 1 error(s) in /etc/ftpproxy/ftpproxy.yaml");
}

TEST(RenderSummary, WorkersThatDoNotAnswer) {
    json status = sample_status();
    status["instances"][0]["state"] = "UNRESPONSIVE";
    status["instances"][0]["sessions"] = nullptr;
    status["instances"][0]["responding"] = false;
    status["old_workers"][0]["sessions"] = nullptr;
    status["old_workers"][0]["responding"] = false;
    EXPECT_EQ(render_summary(status),
              "2 instances: 1 unresponsive, 1 backoff; 1 old worker draining (1 not answering); "
              "firewall: nftables rules loaded 5m00s ago");
    EXPECT_NE(render_status(status).find("\nftp01            UNRESPONSIVE  4242  2h03m   "),
              std::string::npos);
    EXPECT_EQ(status_exit_code(status), kExitNotRunning);
}

TEST(RenderSummary, EmptyAndQuiet) {
    const json status = {{"ok", true},
                         {"instances", json::array()},
                         {"old_workers", json::array()},
                         {"firewall", {{"type", "none"}}}};
    EXPECT_EQ(render_summary(status), "0 instances; firewall: none");
    EXPECT_EQ(status_exit_code(status), kExitOk);
}

TEST(StatusExitCode, ZeroOnlyWhenEveryInstanceRuns) {
    json status = sample_status();
    EXPECT_EQ(status_exit_code(status), kExitNotRunning);
    status["instances"][1]["state"] = "RUNNING";
    EXPECT_EQ(status_exit_code(status), kExitOk);
    status["instances"][1]["state"] = "STARTING";
    EXPECT_EQ(status_exit_code(status), kExitNotRunning);
}

// `ftpproxyctl status` with no names speaks for the node of a cluster:
// every instance RUNNING but no healthy backend is not "all well" (the
// playbook's check).
TEST(StatusExitCode, TheWholeNodeMustBeFit) {
    json status = sample_status();
    status["instances"][1]["state"] = "RUNNING";
    status["node"] = {
        {"fit", false}, {"reason", "ftp02 has no healthy backend"}, {"demotion", "none"}};
    EXPECT_EQ(status_exit_code(status, true), kExitOk);  // no cluster: the summary is silent
    status["node"]["demotion"] = "keepalived";
    EXPECT_EQ(status_exit_code(status, true), kExitNotRunning);
    EXPECT_EQ(status_exit_code(status, false), kExitOk);  // `status ftp01`: its state only
    status["node"]["fit"] = true;
    EXPECT_EQ(status_exit_code(status, true), kExitOk);
    status.erase("node");  // an older ftpproxyd
    EXPECT_EQ(status_exit_code(status, true), kExitOk);
}

TEST(RenderResults, OneLinePerInstance) {
    const json answer = json::parse(R"json({"ok": true, "results": [
        {"name": "ftp01", "ok": true, "message": "started (pid 12)"},
        {"name": "ftp02", "ok": true, "message": "already running (pid 13)"}]})json");
    EXPECT_EQ(render_results(answer), "ftp01: started (pid 12)\nftp02: already running (pid 13)\n");
}

TEST(RenderReload, WhatChanged) {
    const json answer = json::parse(R"json({"ok": true, "config": "/etc/f.yaml",
        "changed": ["ftp02"], "added": [], "removed": ["ftp03"], "unchanged": ["ftp01", "ftp04"],
        "firewall": {"ok": true, "message": "none: no rules written"}})json");
    EXPECT_EQ(render_reload(answer),
              "reloaded /etc/f.yaml\n"
              "  changed:   ftp02 (new workers; the old ones finish their sessions)\n"
              "  added:     none\n"
              "  removed:   ftp03 (their workers finish their sessions)\n"
              "  unchanged: ftp01, ftp04\n"
              "  firewall:  none: no rules written\n");
}

TEST(RenderReload, EveryErrorOfTheFile) {
    const json answer = json::parse(R"json({"ok": false, "error": "2 error(s) in /etc/f.yaml; ...",
        "errors": ["/etc/f.yaml:3:5: unknown key 'lsiten' (did you mean 'listen'?)",
                   "/etc/f.yaml:9:14: 'backend': \"x:0\" has a bad port (1..65535)"]})json");
    EXPECT_EQ(render_reload(answer),
              "/etc/f.yaml:3:5: unknown key 'lsiten' (did you mean 'listen'?)\n"
              "/etc/f.yaml:9:14: 'backend': \"x:0\" has a bad port (1..65535)\n");
}

}  // namespace
