// What a worker counts for ftpproxyd's /metrics (docs/ftpproxyd.md,
// "Metrics"): counters since the worker started, read by the control
// channel's `stats` request as JSON. ftpproxyd adds up an instance's
// workers, those gone included, so that its counters only ever grow.
//
// One set per process (a worker serves one listen address): a data channel
// can outlive its session by a moment and still count its bytes. The worker
// is single-threaded: plain integers.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "ftp/dialogue.hpp"

namespace proxy {

// Counts of observations at or below each bound (Prometheus' cumulative
// buckets are made by ftpproxyd), their sum and their number.
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // {"buckets":{"0.01":N,...,"+Inf":N},"sum":X,"count":N}: every leaf a
    // number, so that ftpproxyd adds histograms of several workers as it
    // adds counters. A bucket's count is of its own interval only.
    nlohmann::json json() const;

  private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;  // one more than bounds_: +Inf
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

// Why a connection was closed before it became a session with a server.
enum class SessionRefusal {
    Limit,         // -m reached: 421
    ShuttingDown,  // the worker is stopping: 421
    NotDiverted,   // forward mode: no original destination (not diverted by the firewall)
    Policy,        // refused by policy: its destination is the proxy itself, clear text on
                   // an implicit TLS port, no TLS handshake in time
    BackendDown,   // the FTP server could not be reached, or sent no greeting in time
};
inline constexpr std::size_t kSessionRefusals = 5;
std::string_view session_refusal_name(SessionRefusal refusal);

struct WorkerMetrics {
    std::uint64_t sessions = 0;  // connections served as sessions (refusals not included)
    std::array<std::uint64_t, kSessionRefusals> sessions_refused{};
    std::uint64_t logins_ok = 0, logins_failed = 0;  // the server's answer to USER/PASS/ACCT
    std::array<std::uint64_t, ftp::kRefusals> commands_refused{};
    std::array<std::uint64_t, ftp::kDataModes> data_connections{};  // by the client's mode
    std::uint64_t bytes_to_client = 0, bytes_to_server = 0;         // data connections' payload
    Histogram transfer_seconds{{0.01, 0.1, 0.5, 1, 5, 10, 60, 300, 3600}};
    Histogram server_connect_seconds{{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}};

    void refused(SessionRefusal why) { ++sessions_refused[static_cast<std::size_t>(why)]; }
    // A data connection's end: its bytes, and its duration when it carried
    // a transfer command (not one closed unused).
    void data_finished(std::uint64_t to_client, std::uint64_t to_server, double seconds,
                       bool transfer);
    nlohmann::json json() const;
};

// The worker's one set.
WorkerMetrics& metrics();

}  // namespace proxy
