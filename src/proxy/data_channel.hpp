// One data connection of a session: the proxy's end toward the client and
// its end toward the server, each either accepted on a listener of the proxy
// or connected by the proxy, then a relay between them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/asio.hpp"
#include "proxy/data_path.hpp"
#include "proxy/session_activity.hpp"
#include "proxy/splice_pipe.hpp"
#include "proxy/tls.hpp"
#include "proxy/tls_binding.hpp"
#include "proxy/wakeup.hpp"

namespace proxy {

// How one side of a data connection is made.
struct DataEnd {
    // Accept on this listener, only from allowed_peer (anything else is port
    // theft: logged, closed, and the listener keeps waiting).
    std::optional<tcp::acceptor> listener;
    asio::ip::address allowed_peer;
    // Or connect to this endpoint, from local (port 0 = any).
    tcp::endpoint connect_to;
    std::optional<tcp::endpoint> connect_from;
    bool transparent = false;  // connect_from may leave this node (set_transparent)

    static DataEnd accept(tcp::acceptor listener, asio::ip::address allowed_peer);
    static DataEnd connect(tcp::endpoint to, std::optional<tcp::endpoint> from,
                           bool transparent = false);
    bool accepts() const { return listener.has_value(); }
};

// Which legs of a data channel are TLS, and what they need. The client leg
// (PROT P from the client) shakes hands as the TLS server with the worker's
// certificate; the server leg as the TLS client, resuming the session of
// the control connection to the server (vsftpd's require_ssl_reuse and
// ProFTPD refuse a data connection that does not) and checked like it.
struct DataTls {
    std::shared_ptr<ssl::context> client;     // null: the client leg is clear
    const ServerTlsPolicy* server = nullptr;  // null: the server leg is clear
    std::shared_ptr<SSL_SESSION> resume;      // the newest session of the control connection
    // The client's control connection (tls_binding.hpp), to tell whether
    // the client leg resumed its session; with reuse_required (the
    // --client-tls-reuse required of vsftpd's require_ssl_reuse) a client
    // leg that did not is refused.
    ControlBinding client_binding;
    bool client_reuse_required = false;
};

class DataChannel : public DataPath, public std::enable_shared_from_this<DataChannel> {
  public:
    // log_prefix: "#12" (the session id). setup_timeout bounds the time from
    // creation to the start of the relay (the client's TLS handshake
    // included). activity: the session's, which counts the bytes relayed
    // and bounds the log lines peers provoke. tls: which legs are TLS; a
    // channel with a TLS leg is relayed with the read/write loop (splice
    // cannot see inside TLS).
    static std::shared_ptr<DataChannel> create(asio::io_context& io, std::string log_prefix,
                                               std::shared_ptr<SessionActivity> activity,
                                               DataEnd client, DataEnd server,
                                               std::chrono::seconds setup_timeout,
                                               RelayConfig relay, DataTls tls = {});

    // Starts accepting/connecting. A channel where the proxy connects on both
    // sides waits for start_transfer() before connecting.
    void start() override;
    // A transfer command went to the server: the data connection is due now.
    // For a download, the end of the server's data is passed on to the
    // client only once the server has answered the transfer command
    // (server_answered()): a server that dies mid-transfer closes its data
    // connection as cleanly as one that finished, and without a reply the
    // client must not take a truncated file for a complete one.
    void start_transfer(std::string command, bool download) override;
    // The server's 1xx to the transfer command: a TLS server leg shakes
    // hands now (see ftp::action::ServerDataReady).
    void server_ready() override;
    // The server's final reply to the transfer command arrived (success or
    // not: a 426 tells the client itself, exactly as without the proxy).
    void server_answered() override;
    // Closes listeners and sockets; waiters wake up. A side whose data is
    // incomplete (a download the server never answered, an upload the
    // client did not end, or any relay error) gets a TCP reset, not a FIN,
    // so its peer learns that the transfer failed. `reason` names the abort
    // in the log line, if it is one.
    void close(std::string_view reason = "aborted by the session") override;
    // Closes, and logs the transfer as failed for `reason` in any case.
    void fail(std::string_view reason) override;
    // Called once, when a listener of this channel accepted the expected
    // peer (forward mode removes the firewall's expectation then).
    void on_accepted(std::function<void()> callback) override {
        on_accepted_ = std::move(callback);
    }

    State state() const override { return state_; }
    // The client's leg is (to be) TLS.
    bool client_tls() const override { return tls_.client != nullptr; }
    // Why the client's data connection was refused, in words for the
    // client's reply (empty: it was not): a TLS session not reused.
    const std::string& client_refusal() const override { return client_refusal_; }
    // Completes when every byte the server sent has been delivered to the
    // client (its end shut down), or the channel was closed or timed out. The
    // session waits for this before relaying a download's 226, so a client
    // never sees the completion reply before the end of its data.
    awaitable<void> wait_server_data_delivered() override;

    // The port of the listener facing the client (for 227/229 replies).
    std::uint16_t client_listen_port() const;
    // The listener facing the server (for PORT/EPRT sent to the server).
    tcp::endpoint server_listen_endpoint() const;

    DataChannel(asio::io_context& io, std::string log_prefix,
                std::shared_ptr<SessionActivity> activity, DataEnd client, DataEnd server,
                std::chrono::seconds setup_timeout, RelayConfig relay, DataTls tls);

    TransferProgress progress() override;

  private:
    awaitable<void> run();
    awaitable<void> watch_setup_timeout();
    awaitable<bool> establish(DataEnd& end, tcp::socket& socket, const char* side);
    // The server side of the client's TLS handshake (PROT P), and the
    // client side of the server's.
    awaitable<bool> client_handshake();
    awaitable<bool> server_handshake();
    // The read/write relay of one direction with a TLS leg.
    awaitable<void> copy_tls_relay(bool from_server, std::uint64_t& bytes);
    awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes);
    // The two relay loops behind pump(). splice_relay() returns false when
    // splice(2) cannot be used for this pair (no pipe, EINVAL/ENOSYS) before
    // any byte moved: pump() then runs copy_relay().
    awaitable<bool> splice_relay(tcp::socket& from, tcp::socket& to, std::uint64_t& bytes);
    // splice_relay()'s parts (data_relay.cpp).
    awaitable<bool> first_bytes(tcp::socket& from);
    std::optional<SplicePipe> relay_pipe();
    awaitable<bool> splice_loop(SplicePipe& pipe, tcp::socket& from, tcp::socket& to,
                                std::uint64_t& bytes);
    awaitable<bool> wait_for_room_or_data(SplicePipe& pipe, tcp::socket& from, tcp::socket& to);
    // From and To: tcp::socket or TlsStream (the client's leg under PROT P).
    template <typename From, typename To>
    awaitable<void> copy_relay(From& from, To& to, bool from_server, std::uint64_t& bytes);
    // End of stream from one side: half-close the other (a download's end
    // waits for the server's answer; a TLS leg gets close_notify first).
    awaitable<void> relay_eof(bool from_server);
    // A relay error: first reason wins, both directions end with a reset.
    void relay_failed(const char* reason);
    void count_delivered(std::uint64_t& bytes, std::size_t n);
    void mark_server_data_delivered();
    void finish();

    asio::io_context& io_;
    std::string log_prefix_;
    std::shared_ptr<SessionActivity> activity_;
    DataEnd client_end_, server_end_;
    tcp::socket client_, server_;
    DataTls tls_;
    std::unique_ptr<TlsStream> client_tls_;  // over client_, once the handshake is done
    std::unique_ptr<TlsStream> server_tls_;  // over server_, likewise
    // For the log line: "clear", or the TLS version and cipher (and, for
    // the server leg, whether the session was resumed).
    std::string client_leg_ = "clear", server_leg_ = "clear";
    std::string client_refusal_;  // see client_refusal()
    asio::steady_timer setup_timer_;
    asio::steady_timer transfer_due_;  // wakes a connect/connect channel
    asio::steady_timer delivered_;     // never expires; cancelled to wake waiters
    Wakeup answered_;                  // server_ready(), server_answered() or close()
    State state_ = State::Waiting;
    bool transfer_started_ = false;
    bool download_ = false;
    bool server_answered_ = false;
    bool server_ready_ = false;  // its 1xx came: a TLS server leg may shake hands
    bool closed_ = false;
    bool server_data_delivered_ = false;
    bool client_eof_ = false;         // passed on to the server
    bool server_eof_passed_ = false;  // passed on to the client
    bool relay_error_ = false;
    bool spliced_ = false, copied_ = false;  // which relay moved bytes, for the log line
    int pumps_running_ = 0;
    std::chrono::seconds setup_timeout_;
    RelayConfig relay_;
    std::string end_reason_;  // first cause of an abort, for the log line
    std::string command_;     // the transfer command, for the log line
    std::function<void()> on_accepted_;
    std::uint64_t to_server_bytes_ = 0, to_client_bytes_ = 0;
    std::chrono::steady_clock::time_point relay_start_;
};

}  // namespace proxy
