// A data connection the firewall forwards in the kernel (--data-path
// kernel): the session asked the firewall for the one translated connection
// (firewall::KernelForwarding) before announcing the port; this object holds
// the announced port, follows the connection in conntrack and writes the
// transfer's log line from conntrack's counters. No byte passes the worker.
//
// What differs from a relayed channel, by nature: the worker cannot hold a
// download's end until the server's reply, nor turn a FIN into a reset; the
// kernel passes each side's packets as they are, as a plain NAT firewall
// (and pf under OpenBSD's ftp-proxy) does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "firewall/conntrack_flows.hpp"
#include "proxy/asio.hpp"
#include "proxy/data_path.hpp"
#include "proxy/session_activity.hpp"

namespace proxy {

// How long a connection already under way is followed after its session
// let it go (the session ended, or the transfer's reply came first): then
// its log line is written with the counters so far, and the kernel goes on
// forwarding it alone.
inline constexpr std::chrono::seconds kKernelFollowAfterClose{60};

class KernelChannel : public DataPath, public std::enable_shared_from_this<KernelChannel> {
  public:
    // reservation: the announced port, bound and never listening (no other
    // session takes it, and a connection the firewall did not translate is
    // refused by the kernel). flow: the connection as it will arrive, from
    // its originator (the client in passive mode, the server in active
    // mode) to the announced address and port. setup_timeout: how long the
    // connection may take to come.
    static std::shared_ptr<KernelChannel> create(asio::io_context& io, std::string log_prefix,
                                                 std::shared_ptr<SessionActivity> activity,
                                                 firewall::ConntrackFlows& flows,
                                                 tcp::acceptor reservation, firewall::FlowKey flow,
                                                 bool client_originates,
                                                 std::chrono::seconds setup_timeout);

    void start() override;
    void start_transfer(std::string command, bool download) override;
    void server_ready() override {}
    void server_answered() override { server_answered_ = true; }
    void close(std::string_view reason = "aborted by the session") override;
    void fail(std::string_view reason) override;
    void on_accepted(std::function<void()> callback) override {
        on_accepted_ = std::move(callback);
    }
    State state() const override { return state_; }
    bool client_tls() const override { return false; }
    const std::string& client_refusal() const override { return no_refusal_; }
    awaitable<void> wait_server_data_delivered() override { co_return; }
    void count_activity() override;
    TransferProgress progress() override;

    KernelChannel(asio::io_context& io, std::string log_prefix,
                  std::shared_ptr<SessionActivity> activity, firewall::ConntrackFlows& flows,
                  tcp::acceptor reservation, firewall::FlowKey flow, bool client_originates,
                  std::chrono::seconds setup_timeout);

  private:
    void on_flow(const firewall::FlowEvent& event);
    void follow_deadline();
    awaitable<void> watch_deadline();
    // The log line, once: from the end's counters, or the counters so far.
    void finish(const firewall::FlowCounters& counters, std::string_view ending);
    void stop_following() noexcept;

    asio::io_context& io_;
    std::string log_prefix_;
    std::shared_ptr<SessionActivity> activity_;
    firewall::ConntrackFlows& flows_;
    tcp::acceptor reservation_;
    firewall::FlowKey flow_;
    bool client_originates_;
    std::chrono::seconds setup_timeout_;
    asio::steady_timer deadline_;  // the setup timeout, then the follow-up bound
    std::uint64_t watch_ = 0;      // 0: not following
    std::uint16_t from_port_ = 0;  // the connection's source port, once it came
    State state_ = State::Waiting;
    bool closed_ = false;
    bool server_answered_ = false;
    std::string command_;
    std::string end_reason_;  // a failure named by the session
    std::function<void()> on_accepted_;
    std::chrono::steady_clock::time_point started_;
    std::uint64_t counted_ = 0;  // bytes already added to activity_
    static inline const std::string no_refusal_;
};

}  // namespace proxy
