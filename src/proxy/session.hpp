// One client's FTP session: the shell around its ftp::Dialogue. The session
// owns the sockets, timers and data channels; the dialogue decides what each
// command and reply line means (src/ftp/dialogue.hpp) and the session
// carries out its actions in order.
//
// Three coroutines share the session: client_loop reads commands and writes
// them to the server (the only writer toward the server), server_loop reads
// replies and relays them (through the ControlWriter, the only writer toward
// the client), idle_watch enforces -t.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftp/dialogue.hpp"
#include "ftp/line_buffer.hpp"
#include "proxy/asio.hpp"
#include "proxy/control_writer.hpp"
#include "proxy/data_channel.hpp"
#include "proxy/session_activity.hpp"
#include "proxy/settings.hpp"
#include "proxy/tls.hpp"
#include "proxy/tls_binding.hpp"
#include "proxy/wakeup.hpp"

namespace proxy {

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(asio::io_context& io, const Settings& settings, tcp::socket client, std::uint64_t id,
            std::function<void()> on_end);
    void start();
    // Ends the session with a final reply (e.g. 421 on shutdown); `why`
    // for its log line.
    void stop(std::string_view reply, std::string_view why = "proxy shutting down");
    // session_report.cpp: what `ftpproxyctl sessions` shows of it:
    // {"id","client","server","user","state","transfer","age","idle"}.
    nlohmann::json report();

  private:
    awaitable<void> run();
    bool choose_server();
    awaitable<bool> connect_to_server();
    awaitable<void> client_loop();
    awaitable<void> server_loop();
    awaitable<void> idle_watch();
    awaitable<void> greeting_watch();
    // Backpressure: returns when the client may send another command (few
    // enough replies due and queued), or the session ended.
    awaitable<void> wait_for_client_room();
    bool client_room() const;

    // session_actions.cpp: what the dialogue decided, carried out in order;
    // each request is answered through the dialogue before the next action.
    awaitable<void> carry_out(ftp::Actions& batch);
    void carry_out_now(ftp::Action& action);
    awaitable<void> send_to_server(std::string line, bool own);
    void reply_to_client(std::string_view line);
    void log(const ftp::action::Log& entry);
    awaitable<void> finish_transfer(const ftp::action::FinishTransfer& finish, ftp::Actions& batch);
    // session_tls.cpp: AUTH TLS carried out on either side; reading and
    // writing the control connections, in clear text or through TLS; what a
    // data channel's legs need for theirs.
    awaitable<void> start_client_tls(ftp::Actions& batch);
    awaitable<bool> client_control_handshake(std::string_view context);
    awaitable<void> start_server_tls(ftp::Actions& batch);
    awaitable<std::size_t> read_client(std::span<char> space, error_code& error);
    awaitable<std::size_t> read_server(std::span<char> space, error_code& error);
    awaitable<void> write_server(std::string_view bytes, error_code& error);
    DataTls data_tls(bool client_tls, bool server_tls) const;

    // session_data.cpp: data channels and their listeners.
    awaitable<void> open_passive(ftp::action::OpenPassive request, ftp::Actions& batch);
    awaitable<void> open_active(ftp::action::OpenActive request, ftp::Actions& batch);
    awaitable<void> expect_client_leg(ftp::action::ExpectClientLeg request, ftp::Actions& batch);
    void connect_both(const ftp::action::ConnectBoth& request);
    // `mode`: how the client asked for it (counted when the connection comes).
    void adopt(ftp::ChannelId id, ftp::DataMode mode, std::shared_ptr<DataPath> channel,
               bool connects_both = false);
    std::shared_ptr<DataPath> take_channel(ftp::ChannelId id);
    std::shared_ptr<DataPath> find_channel(ftp::ChannelId id) const;
    tcp::endpoint active_source() const;
    // session_kernel.cpp: the kernel data path (--data-path kernel).
    // kernel_refusal(): null when the kernel may carry a data connection
    // with these legs, else why not ("" when the path is off).
    const char* kernel_refusal(bool client_tls, bool server_tls) const;
    void log_relayed_instead(const char* why) const;
    awaitable<bool> forward_in_kernel(ftp::ChannelId id, ftp::DataMode mode,
                                      tcp::acceptor reservation,
                                      firewall::KernelForwarding forwarding,
                                      bool client_originates);
    awaitable<void> open_passive_in_kernel(ftp::action::OpenPassive request, ftp::Actions& batch);
    awaitable<void> open_active_in_kernel(ftp::action::OpenActive request, ftp::Actions& batch);
    // session_firewall.cpp. Forward mode: where the client's data listener
    // is bound, what the 227/229 announce, and the firewall state that makes
    // the two meet (awaited: true when it is in place).
    asio::ip::address client_listen_address() const;
    asio::ip::address announced_address() const;
    awaitable<bool> firewall_agrees(std::function<void(firewall::Done)> ask);
    awaitable<bool> expect_client_connection(std::uint16_t port);
    awaitable<bool> expect_server_connection(tcp::endpoint ours, tcp::endpoint source,
                                             tcp::endpoint client_data);
    awaitable<bool> expect_onward_leg(tcp::endpoint source, tcp::endpoint client_data);
    firewall::OnwardLeg leg_to_client(const tcp::endpoint& source,
                                      const tcp::endpoint& client_data) const;

    void touch() { last_activity_ = std::chrono::steady_clock::now(); }
    void end(std::string_view why);
    // Ends the session because a peer broke off: the other side's control
    // connection is reset rather than closed cleanly.
    void abort(std::string_view why);

    asio::io_context& io_;
    const Settings& settings_;
    tcp::socket client_, server_;
    std::unique_ptr<TlsStream> client_tls_;  // over client_, after AUTH TLS
    ControlBinding client_binding_;          // what client_tls_'s sessions carry
    std::unique_ptr<TlsStream> server_tls_;  // over server_, after our AUTH TLS
    std::uint64_t id_;
    std::string tag_;  // "#12", prefix of every log line
    std::function<void()> on_end_;
    std::shared_ptr<SessionActivity> activity_;  // shared with the data channels
    ControlWriter writer_;
    ftp::LineBuffer client_in_, server_in_;
    std::optional<ftp::Dialogue> dialogue_;         // from the connection to the server on
    ftp::Actions client_actions_, server_actions_;  // one batch buffer per loop
    // The data channels the dialogue asked for and has not yet closed: the
    // prepared one and those of transfers under way (bounded by the replies
    // due). The end of the session closes them all.
    std::vector<std::pair<ftp::ChannelId, std::shared_ptr<DataPath>>> channels_;
    tcp::endpoint client_peer_, client_local_, server_local_;
    tcp::endpoint server_endpoint_;  // -R, or the original destination in forward mode
    asio::steady_timer idle_timer_;
    asio::steady_timer server_deadline_;  // connect, then the greeting
    Wakeup replies_popped_;               // fewer replies are due
    std::chrono::steady_clock::time_point last_activity_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    bool logged_in_ = false;             // the server answered a login with 230
    std::uint64_t data_bytes_seen_ = 0;  // activity_->data_bytes at the last idle check
    bool ended_ = false;
    bool server_writing_ = false;  // an async_write to the server is in flight
};

}  // namespace proxy
