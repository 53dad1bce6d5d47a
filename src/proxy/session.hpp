// One client's FTP session: the client control connection, the proxy's
// connection to the server, and the data channel currently negotiated.
//
// Three coroutines share the session: client_loop reads commands and writes
// them to the server (the only writer toward the server), server_loop reads
// replies and relays them (through the ControlWriter, the only writer toward
// the client), idle_watch enforces -t. Replies stay in command order because
// every command that expects a reply has an entry in `pending_`, and replies
// the proxy makes itself wait in that queue behind the server's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ftp/command.hpp"
#include "ftp/line_buffer.hpp"
#include "ftp/reply.hpp"
#include "proxy/asio.hpp"
#include "proxy/control_writer.hpp"
#include "proxy/data_channel.hpp"
#include "proxy/session_activity.hpp"
#include "proxy/settings.hpp"
#include "proxy/wakeup.hpp"

namespace proxy {

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(asio::io_context& io, const Settings& settings, tcp::socket client, std::uint64_t id,
            std::function<void()> on_end);
    void start();
    // Ends the session with a final reply (e.g. 421 on shutdown).
    void stop(std::string_view reply);

  private:
    // What the next server reply answers.
    enum class Expect {
        Greeting,        // the 220 banner
        Plain,           // relayed unchanged
        Feat,            // relayed without the features the proxy cannot carry
        ClientPasv,      // client PASV: rewrite the server's 227/229 to a 227
        ClientEpsv,      // client EPSV: ... to a 229
        PortViaPassive,  // client PORT/EPRT, server asked for PASV/EPSV
        ActivePort,      // client PORT/EPRT, server got our PORT/EPRT
        Transfer,        // RETR/STOR/LIST...: completion waits for the data
        Quit,
        Rein,   // accepted: the proxy's own session state is reset too
        Local,  // not a server reply: the proxy's own, in order
    };
    struct Pending {
        explicit Pending(Expect kind_, std::string text_ = {})
            : kind(kind_), text(std::move(text_)) {}
        Expect kind;
        std::string text;  // Local: the reply; PortViaPassive: the client's verb;
                           // Transfer: the command, for the transfer log line
        std::shared_ptr<DataChannel> channel;
        tcp::endpoint client_data;  // PortViaPassive: where the client listens
        bool download = false;      // Transfer: data flows server -> client
    };

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

    // Client side.
    awaitable<void> handle_client_line(std::string_view line);
    awaitable<void> handle_command(const ftp::Command& command);
    awaitable<void> handle_pasv(const ftp::Command& command);
    awaitable<void> handle_port(const ftp::Command& command);
    awaitable<void> forward(const ftp::Command& command, Pending pending);
    awaitable<void> forward(const ftp::Command& command, Expect kind);
    awaitable<void> send_to_server(std::string line);
    tcp::endpoint active_source() const;

    // Server side.
    awaitable<void> handle_reply_line(const ftp::ReplyLine& reply, std::string_view line);
    void complete_passive_reply(Pending& head, int code);
    void reply_to_client(std::string_view line);
    std::string withheld_passive_reply(const ftp::ReplyLine& reply);
    void reply_local(std::string text);
    void pop_pending();

    // Data channels.
    std::optional<tcp::endpoint> server_data_endpoint(int code, std::string_view text);
    void replace_channel(std::shared_ptr<DataChannel> channel, bool adopt_pipelined = false);
    // Forward mode: where the client's data listener is bound, what the
    // 227/229 announce, and the firewall state that makes the two meet.
    asio::ip::address client_listen_address() const;
    asio::ip::address announced_address() const;
    bool expect_client_connection(std::uint16_t port);
    bool expect_server_connection(const tcp::endpoint& ours, const tcp::endpoint& source,
                                  const tcp::endpoint& client_data);
    bool expect_client_leg(const tcp::endpoint& source, const tcp::endpoint& client_data);
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
    std::uint64_t id_;
    std::string tag_;  // "#12", prefix of every log line
    std::function<void()> on_end_;
    std::shared_ptr<SessionActivity> activity_;  // shared with the data channels
    ControlWriter writer_;
    ftp::LineBuffer client_in_, server_in_;
    ftp::ReplyReader replies_;
    std::deque<Pending> pending_;
    std::vector<std::string> held_reply_;   // lines of a multi-line 227/229 being rewritten
    std::shared_ptr<DataChannel> channel_;  // negotiated, waiting for its transfer command
    std::vector<std::weak_ptr<DataChannel>> channels_;  // every live one, closed at the end
    tcp::endpoint client_peer_, client_local_, server_local_;
    tcp::endpoint server_endpoint_;  // -R, or the original destination in forward mode
    asio::steady_timer idle_timer_;
    asio::steady_timer server_deadline_;  // connect, then the greeting
    Wakeup replies_popped_;               // pending_ got shorter
    std::chrono::steady_clock::time_point last_activity_;
    std::uint64_t data_bytes_seen_ = 0;  // activity_->data_bytes at the last idle check
    bool epsv_all_ = false;
    bool client_closed_ = false;  // EOF from the client with replies still due
    bool ended_ = false;
    bool server_writing_ = false;  // an async_write to the server is in flight
};

}  // namespace proxy
