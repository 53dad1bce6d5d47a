#include "supervisor/metrics_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <utility>

namespace supervisor {
namespace {

using nlohmann::json;
using Labels = std::vector<std::pair<std::string, std::string>>;

// Label values are names from ftpproxy.yaml and fixed words, but escaped
// all the same (the format's three escapes).
std::string escaped(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

// A number as the format writes it: integers exactly, others shortest.
std::string number(const json& value) {
    if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
    if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
    if (value.is_number_float()) return fmt::format("{}", value.get<double>());
    return "0";
}

class Page {
  public:
    // One family: its HELP and TYPE once, then its samples.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, const Labels& labels, const std::string& value) {
        text_ += name;
        if (!labels.empty()) {
            text_ += '{';
            for (std::size_t i = 0; i < labels.size(); ++i) {
                if (i) text_ += ',';
                text_ += labels[i].first + "=\"" + escaped(labels[i].second) + '"';
            }
            text_ += '}';
        }
        text_ += ' ' + value + '\n';
    }
    std::string take() { return std::move(text_); }

  private:
    std::string text_;
};

const json& at(const json& counts, std::string_view key) {
    static const json none;
    if (!counts.is_object()) return none;
    const auto it = counts.find(key);
    return it == counts.end() ? none : *it;
}

// A counter broken down by one label: every key the workers report.
void by_label(Page& page, const NodeSnapshot& node, std::string_view name, std::string_view key,
              std::string_view label, std::string_view help) {
    page.family(name, "counter", help);
    for (const InstanceSnapshot& instance : node.instances) {
        const json& counts = at(instance.counts, key);
        if (!counts.is_object()) continue;
        for (const auto& [value, count] : counts.items())
            page.sample(name, {{"proxy", instance.name}, {std::string(label), value}},
                        number(count));
    }
}

// A histogram from a worker's {"buckets":{"0.01":N,...,"+Inf":N},"sum","count"}:
// the buckets made cumulative, in the order of their bounds.
void histogram(Page& page, const NodeSnapshot& node, std::string_view name, std::string_view key,
               std::string_view help) {
    page.family(name, "histogram", help);
    for (const InstanceSnapshot& instance : node.instances) {
        const json& h = at(instance.counts, key);
        const json& buckets = at(h, "buckets");
        if (!buckets.is_object()) continue;
        std::vector<std::pair<double, std::uint64_t>> bounds;
        std::uint64_t infinite = 0;
        for (const auto& [bound, count] : buckets.items()) {
            const auto n = count.is_number() ? count.get<std::uint64_t>() : 0;
            if (bound == "+Inf")
                infinite = n;
            else
                bounds.emplace_back(std::stod(bound), n);
        }
        std::sort(bounds.begin(), bounds.end());
        std::uint64_t cumulative = 0;
        for (const auto& [bound, count] : bounds) {
            cumulative += count;
            page.sample(fmt::format("{}_bucket", name),
                        {{"proxy", instance.name}, {"le", fmt::format("{}", bound)}},
                        std::to_string(cumulative));
        }
        page.sample(fmt::format("{}_bucket", name), {{"proxy", instance.name}, {"le", "+Inf"}},
                    std::to_string(cumulative + infinite));
        page.sample(fmt::format("{}_sum", name), {{"proxy", instance.name}}, number(at(h, "sum")));
        page.sample(fmt::format("{}_count", name), {{"proxy", instance.name}},
                    number(at(h, "count")));
    }
}

void per_instance(Page& page, const NodeSnapshot& node, std::string_view name,
                  std::string_view type, std::string_view help,
                  std::int64_t InstanceSnapshot::*field) {
    page.family(name, type, help);
    for (const InstanceSnapshot& instance : node.instances)
        page.sample(name, {{"proxy", instance.name}}, std::to_string(instance.*field));
}

}  // namespace

void add_counts(json& into, const json& from) {
    if (from.is_number()) {
        if (!into.is_number()) into = 0;
        if (from.is_number_float() || into.is_number_float())
            into = into.get<double>() + from.get<double>();
        else
            into = into.get<std::uint64_t>() + from.get<std::uint64_t>();
        return;
    }
    if (!from.is_object()) return;
    if (!into.is_object()) into = json::object();
    for (const auto& [key, value] : from.items()) add_counts(into[key], value);
}

std::string render_metrics(const NodeSnapshot& node) {
    Page page;
    page.family("ftpproxy_build_info", "gauge", "The running ftpproxyd's version.");
    page.sample("ftpproxy_build_info", {{"version", node.version}}, "1");

    per_instance(page, node, "ftpproxy_sessions_active", "gauge",
                 "Sessions open now, in every worker of the instance (draining ones included).",
                 &InstanceSnapshot::sessions_active);
    page.family("ftpproxy_sessions_total", "counter",
                "Sessions started: connections a worker took on (refusals at accept, for the "
                "session limit or a shutdown, are only in ftpproxy_sessions_refused_total).");
    for (const InstanceSnapshot& instance : node.instances)
        page.sample("ftpproxy_sessions_total", {{"proxy", instance.name}},
                    number(at(instance.counts, "sessions")));
    by_label(page, node, "ftpproxy_sessions_refused_total", "sessions_refused", "reason",
             "Connections closed with a 421 (or, on an implicit TLS port, without a word) "
             "before they reached an FTP server, by reason.");
    by_label(page, node, "ftpproxy_logins_total", "logins", "result",
             "The FTP servers' final replies to USER/PASS/ACCT: ok (230) or failed (4xx/5xx).");
    by_label(page, node, "ftpproxy_commands_refused_total", "commands_refused", "reason",
             "Client commands the proxy refused itself, by reason.");
    by_label(page, node, "ftpproxy_data_connections_total", "data_connections", "mode",
             "Data connections made, by the mode the client asked for.");
    by_label(page, node, "ftpproxy_data_bytes_total", "data_bytes", "direction",
             "Bytes of data connections (the kernel data path: IP bytes as conntrack counts "
             "them), by direction.");
    histogram(page, node, "ftpproxy_transfer_duration_seconds", "transfer_seconds",
              "Data transfers, from the data connection's start to its end.");
    histogram(page, node, "ftpproxy_backend_connect_duration_seconds", "server_connect_seconds",
              "Time to connect to the FTP server, per session.");

    page.family("ftpproxy_backend_up", "gauge",
                "Reverse instances with health checks: 1 while a backend is up, 0 while down "
                "(no series before the first check decides, nor without checks).");
    for (const InstanceSnapshot& instance : node.instances)
        for (const InstanceSnapshot::Backend& backend : instance.backends)
            if (backend.health == "up" || backend.health == "down")
                page.sample("ftpproxy_backend_up",
                            {{"proxy", instance.name}, {"backend", backend.address}},
                            backend.health == "up" ? "1" : "0");
    page.family("ftpproxy_instance_state", "gauge",
                "The instance's state, as ftpproxyctl status shows it: 1 for the current one.");
    for (const InstanceSnapshot& instance : node.instances)
        for (const std::string& state : instance_states())
            page.sample("ftpproxy_instance_state", {{"proxy", instance.name}, {"state", state}},
                        state == instance.state ? "1" : "0");
    per_instance(page, node, "ftpproxy_workers", "gauge",
                 "Worker processes of the instance, draining ones included.",
                 &InstanceSnapshot::workers);
    per_instance(page, node, "ftpproxy_workers_silent", "gauge",
                 "Workers that did not answer this scrape in time (their counts are those of "
                 "their last answer).",
                 &InstanceSnapshot::workers_silent);
    per_instance(page, node, "ftpproxy_worker_restarts_total", "counter",
                 "Workers ftpproxyd started again after one exited.", &InstanceSnapshot::restarts);

    page.family("ftpproxy_reloads_total", "counter", "Reloads of ftpproxy.yaml, by result.");
    page.sample("ftpproxy_reloads_total", {{"result", "ok"}}, std::to_string(node.reloads_ok));
    page.sample("ftpproxy_reloads_total", {{"result", "failed"}},
                std::to_string(node.reloads_failed));
    page.family("ftpproxy_firewall_updates_total", "counter",
                "Writes of the pf/nftables fragment (and the reload command), by result.");
    page.sample("ftpproxy_firewall_updates_total", {{"result", "ok"}},
                std::to_string(node.firewall_updates_ok));
    page.sample("ftpproxy_firewall_updates_total", {{"result", "failed"}},
                std::to_string(node.firewall_updates_failed));
    page.family("ftpproxy_node_fit", "gauge",
                "1 while the node can serve (every instance running, answering, with a backend "
                "up), else 0.");
    page.sample("ftpproxy_node_fit", {}, node.fit ? "1" : "0");
    page.family("ftpproxy_node_demoted", "gauge",
                "1 while ftpproxyd keeps the node demoted in its cluster, else 0.");
    page.sample("ftpproxy_node_demoted", {}, node.demoted ? "1" : "0");
    page.family("ftpproxy_node_role", "gauge",
                "The role the cluster layer last reported: 1 for the current one.");
    for (const char* role : {"master", "backup", "fault", "mixed", "unknown"})
        page.sample("ftpproxy_node_role", {{"role", role}}, node.role == role ? "1" : "0");
    return page.take();
}

}  // namespace supervisor
