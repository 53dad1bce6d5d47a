// The /metrics page, exactly (promtool checks the live page in
// tests/supervisor), and the sum of several workers' counters.
#include "supervisor/metrics_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace supervisor {
namespace {

using nlohmann::json;

// What a worker answers in "metrics" (src/proxy/worker_metrics.cpp), trimmed.
json worker_counts(int sessions, int refused_limit, int ok, double seconds) {
    return {{"sessions", sessions},
            {"sessions_refused", {{"limit", refused_limit}, {"backend_down", 0}}},
            {"logins", {{"ok", ok}, {"failed", 1}}},
            {"data_connections", {{"pasv", 2}, {"eprt", 0}}},
            {"transfer_seconds",
             {{"buckets", {{"0.1", 1}, {"1", 0}, {"10", 1}, {"+Inf", 1}}},
              {"sum", seconds},
              {"count", 3}}}};
}

TEST(MetricsText, CountsOfSeveralWorkersAddUp) {
    json total;
    add_counts(total, worker_counts(3, 1, 2, 20.5));
    add_counts(total, worker_counts(4, 0, 5, 1.25));
    add_counts(total, nullptr);  // a worker that never answered
    EXPECT_EQ(total["sessions"], 7);
    EXPECT_EQ(total["sessions_refused"]["limit"], 1);
    EXPECT_EQ(total["logins"]["ok"], 7);
    EXPECT_EQ(total["transfer_seconds"]["buckets"]["10"], 2);
    EXPECT_DOUBLE_EQ(total["transfer_seconds"]["sum"].get<double>(), 21.75);
    EXPECT_EQ(total["transfer_seconds"]["count"], 6);
}

TEST(MetricsText, Page) {
    NodeSnapshot node;
    node.version = "0.1.0";
    node.reloads_ok = 2;
    node.reloads_failed = 1;
    node.firewall_updates_ok = 3;
    node.fit = true;
    node.role = "master";
    InstanceSnapshot a;
    a.name = "p8021";
    a.state = "RUNNING";
    a.sessions_active = 4;
    a.workers = 2;
    a.workers_silent = 1;
    a.restarts = 1;
    add_counts(a.counts, worker_counts(3, 1, 2, 20.5));
    a.backends = {{"198.18.2.2:21", "up"}, {"198.18.2.3:21", "down"}, {"198.18.2.4:21", "unknown"}};
    InstanceSnapshot b;
    b.name = "with \"quote\"";
    b.state = "BACKOFF";
    node.instances = {a, b};
    const std::string page = render_metrics(node);
    const std::string expected = R"(# HELP ftpproxy_build_info The running ftpproxyd's version.
# TYPE ftpproxy_build_info gauge
ftpproxy_build_info{version="0.1.0"} 1
)";
    EXPECT_EQ(page.substr(0, expected.size()), expected);
    for (const char* line : {
             "ftpproxy_sessions_active{proxy=\"p8021\"} 4\n",
             "ftpproxy_sessions_total{proxy=\"p8021\"} 3\n",
             "ftpproxy_sessions_total{proxy=\"with \\\"quote\\\"\"} 0\n",
             "ftpproxy_sessions_refused_total{proxy=\"p8021\",reason=\"limit\"} 1\n",
             "ftpproxy_logins_total{proxy=\"p8021\",result=\"ok\"} 2\n",
             "ftpproxy_data_connections_total{proxy=\"p8021\",mode=\"pasv\"} 2\n",
             // Cumulative, in the order of the bounds (JSON keeps "1" < "10"
             // < "0.1" as text), +Inf last.
             "ftpproxy_transfer_duration_seconds_bucket{proxy=\"p8021\",le=\"0.1\"} 1\n"
             "ftpproxy_transfer_duration_seconds_bucket{proxy=\"p8021\",le=\"1\"} 1\n"
             "ftpproxy_transfer_duration_seconds_bucket{proxy=\"p8021\",le=\"10\"} 2\n"
             "ftpproxy_transfer_duration_seconds_bucket{proxy=\"p8021\",le=\"+Inf\"} 3\n"
             "ftpproxy_transfer_duration_seconds_sum{proxy=\"p8021\"} 20.5\n"
             "ftpproxy_transfer_duration_seconds_count{proxy=\"p8021\"} 3\n",
             "ftpproxy_backend_up{proxy=\"p8021\",backend=\"198.18.2.2:21\"} 1\n"
             "ftpproxy_backend_up{proxy=\"p8021\",backend=\"198.18.2.3:21\"} 0\n"
             "# HELP ftpproxy_instance_state",
             "ftpproxy_instance_state{proxy=\"p8021\",state=\"RUNNING\"} 1\n",
             "ftpproxy_instance_state{proxy=\"p8021\",state=\"BACKOFF\"} 0\n",
             "ftpproxy_instance_state{proxy=\"with \\\"quote\\\"\",state=\"BACKOFF\"} 1\n",
             "ftpproxy_workers_silent{proxy=\"p8021\"} 1\n",
             "ftpproxy_worker_restarts_total{proxy=\"p8021\"} 1\n",
             "ftpproxy_reloads_total{result=\"ok\"} 2\nftpproxy_reloads_total{result=\"failed\"} "
             "1\n",
             "ftpproxy_firewall_updates_total{result=\"failed\"} 0\n",
             "ftpproxy_node_fit 1\n",
             "ftpproxy_node_demoted 0\n",
             "ftpproxy_node_role{role=\"master\"} 1\nftpproxy_node_role{role=\"backup\"} 0\n",
         })
        EXPECT_NE(page.find(line), std::string::npos) << "missing:\n" << line << "\nin:\n" << page;
    // Every family is declared once, before its samples.
    EXPECT_EQ(page.find("# TYPE ftpproxy_sessions_total counter\n"),
              page.rfind("# TYPE ftpproxy_sessions_total counter\n"));
    EXPECT_LT(page.find("# TYPE ftpproxy_transfer_duration_seconds histogram\n"),
              page.find("ftpproxy_transfer_duration_seconds_bucket"));
    EXPECT_EQ(page.find("198.18.2.4"), std::string::npos);  // unknown: no series yet
}

}  // namespace
}  // namespace supervisor
