// The FTP dialogue of one proxied session, as pure code: client command
// lines and server reply lines go in, the proxy's decisions come out as
// Actions (send this line, open that data connection, end the session). No
// sockets, no clocks: the worker's Session moves the bytes and runs the
// timers, and carries out the actions in the order they come.
//
// The dialogue owns what makes FTP through a proxy correct:
// - the queue of replies due, in command order (pipelining): replies the
//   proxy makes itself wait behind the server's replies to earlier commands;
// - the policy (anonymous only, bounce refusal, EPSV ALL, what is refused);
// - the 227/229 rewrite toward the client and PORT/EPRT toward the server;
// - which data connection belongs to which transfer command.
//
// Some actions are requests: the session carries them out (possibly
// asynchronously) and gives the outcome back through the matching answer
// method before it feeds the same side any further line. A request is
// always the last action of its batch, so that nothing after it can overtake
// its outcome. Client-side requests (OpenActive, ExpectClientLeg,
// StartClientTls) come from client_line(); server-side ones (OpenPassive,
// FinishTransfer, StartServerTls) from server_line(). Each side has at most
// one request outstanding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ftp/address_codec.hpp"
#include "ftp/command.hpp"
#include "ftp/reply.hpp"

namespace ftp {

// A data connection the dialogue asked for; 0 is none. The session maps ids
// to its data channel objects.
using ChannelId = std::uint64_t;

// Syslog's names: what the session logs at.
enum class Severity { Debug, Info, Notice, Warning, Error };

// TLS on the client's side (explicit FTPS, RFC 4217). Off: AUTH/PBSZ/PROT
// are refused (502) and hidden from FEAT, as when the worker has no
// certificate. Optional: the client may ask for TLS. Required: no login
// (USER/PASS/ACCT) before AUTH, and no transfer under PROT C.
enum class ClientTls { Off, Optional, Required };

// TLS toward the server (--server-tls). Off: clear text. Auto: after the
// greeting the proxy asks for AUTH TLS; a server that refuses it is served
// in clear text. Required: a server that refuses it ends the session with a
// 421. Either way the client's commands wait until the setup (AUTH TLS, the
// handshake, PBSZ 0, PROT P) is over, and a handshake that fails is a 421:
// after its 234 the server speaks nothing but TLS.
enum class ServerTls { Off, Auto, Required };

// Why the proxy answered a client's command itself with a refusal: one
// label value each of ftpproxyd's refusal counter, so few and stable.
enum class Refusal {
    LineTooLong,    // over kMaxCommandLine
    Syntax,         // not a command line (control characters, no verb)
    Bounce,         // PORT/EPRT to another host or a privileged port
    Argument,       // a malformed argument (PORT, EPRT, EPSV, PBSZ, PROT)
    NotSupported,   // what the proxy does not carry (LPRT, CCC, REIN under TLS, AUTH SSL...)
    Sequence,       // out of order (PASV after EPSV ALL, PROT before PBSZ, pipelined AUTH)
    AnonymousOnly,  // -A: a user other than anonymous/ftp
    TlsRequired,    // --client-tls required: login or data in clear text
};
inline constexpr std::size_t kRefusals = 8;
std::string_view refusal_name(Refusal refusal);  // "line_too_long", ...

// What `ftpproxyctl sessions` shows of a user name, at most.
inline constexpr std::size_t kMaxShownUser = 64;

// How the client asked for a data connection.
enum class DataMode { Pasv, Epsv, Port, Eprt };
inline constexpr std::size_t kDataModes = 4;
std::string_view data_mode_name(DataMode mode);  // "pasv", ...

struct DialogueConfig {
    bool anonymous_only = false;     // -A
    bool passive_to_server = false;  // --passive-to-server: a client's PORT becomes PASV
    bool verbose = false;            // -v: every command is logged
    bool client_ipv4 = true;         // the client reached the proxy over IPv4
    bool server_ipv4 = true;         // the proxy's connection to the server is IPv4
    Address client;  // the client's address: the only PORT/EPRT target allowed (canonical)
    Address server;  // the server's control address: where its passive listeners are (canonical)
    ClientTls client_tls = ClientTls::Off;
    ServerTls server_tls = ServerTls::Off;
    // Implicit FTPS (a port-990-style listener): the control connection is
    // TLS from its first byte and data is protected (PROT P) until the
    // client says PROT C, as implicit FTPS servers and clients assume.
    bool implicit_tls = false;
};

namespace action {

struct ToClient {  // one reply line, without CRLF
    std::string line;
};
struct ToServer {  // one command line, without CRLF
    std::string line;
    bool own = false;  // the proxy's own request (PASV, PORT...), not the client's command
};
struct Log {
    Severity severity;
    bool provoked;  // a peer can repeat it at will: the session's log budget applies
    std::string text;
};
struct GreetingReceived {};  // the server's greeting is complete: its deadline is over
struct Refused {  // the proxy refused a client's command (its reply and log line come too)
    Refusal reason;
};
struct LoginAnswered {  // the server's final reply to USER/PASS/ACCT: 230, or a 4xx/5xx
    bool ok;
};
// Request: listen for the client's data connection, which goes on to
// server_data. Answer: passive_opened() with the endpoint the client is to be
// told (the port of the listener), or passive_refused().
struct OpenPassive {
    ChannelId channel;
    Endpoint server_data;
    bool client_tls = false;  // PROT P: the client's leg is TLS
    bool server_tls = false;  // the server accepted PROT P: its leg is TLS
    DataMode mode = DataMode::Pasv;  // PASV or EPSV
};
// Request: listen for the server's data connection, which goes on to
// client_data. Answer: active_opened() with the listener's endpoint (what
// PORT/EPRT tells the server), or active_refused().
struct OpenActive {
    ChannelId channel;
    Endpoint client_data;
    bool client_tls = false;  // PROT P: the client's leg is TLS
    bool server_tls = false;  // the server accepted PROT P: its leg is TLS
    DataMode mode = DataMode::Port;  // PORT or EPRT
};
// Request (--passive-to-server): prepare for a connection from the proxy to
// client_data (forward mode: its firewall state). Answer:
// client_leg_ready() or active_refused().
struct ExpectClientLeg {
    Endpoint client_data;
};
// --passive-to-server: a data connection the proxy makes on both sides, once
// a transfer command starts it.
struct ConnectBoth {
    ChannelId channel;
    Endpoint client_data;
    Endpoint server_data;
    bool client_tls = false;  // PROT P: the client's leg is TLS
    bool server_tls = false;  // the server accepted PROT P: its leg is TLS
    DataMode mode = DataMode::Port;  // the client's PORT or EPRT
};
// Request (AUTH TLS, after its 234 went out as the action before): the
// client's control connection becomes TLS; nothing more may be read from it
// in clear text. Answer: client_tls_started(). A failed handshake ends the
// session (the session's own doing: there is nobody left to answer).
struct StartClientTls {};
// Request (the server's 234 to the proxy's own AUTH TLS): the connection to
// the server becomes TLS. Answer: server_tls_started(), or
// server_tls_failed() with the reason (the session then ends with a 421).
struct StartServerTls {};
// A transfer command went to the server: its data connection is due.
struct StartTransfer {
    ChannelId channel;
    std::string command;  // "RETR file", for the transfer's log line
    bool download;        // data flows from the server to the client
};
// The server's preliminary reply (1xx) to a transfer command: it is ready
// for the data connection's TLS handshake. A server leg shakes hands only
// then, as clients do (ftplib, curl): a ClientHello that comes first reads
// to pyftpdlib as a broken connection. Only for TLS server legs.
struct ServerDataReady {
    ChannelId channel;
};
// Request: the server's final reply to a transfer arrived. The session ends
// the data connection according to `code` (for a download's success, only
// once every byte reached the client) and answers transfer_finished(); the
// reply itself is relayed then.
struct FinishTransfer {
    ChannelId channel;
    int code;
    bool download;
};
struct CloseChannel {  // no longer wanted (replaced, refused, reset)
    ChannelId channel;
};
struct End {  // the session is over (a final reply, if any, came before)
    std::string reason;
};

}  // namespace action

using Action =
    std::variant<action::ToClient, action::ToServer, action::Log, action::GreetingReceived,
                 action::Refused, action::LoginAnswered, action::OpenPassive, action::OpenActive,
                 action::ExpectClientLeg, action::ConnectBoth, action::StartClientTls,
                 action::StartServerTls, action::StartTransfer, action::ServerDataReady,
                 action::FinishTransfer, action::CloseChannel, action::End>;
using Actions = std::vector<Action>;

class Dialogue {
  public:
    explicit Dialogue(DialogueConfig config);

    // Client side. A line is one command line without its CRLF.
    void client_line(std::string_view line, Actions& out);
    void client_overlong(Actions& out);  // a line over kMaxCommandLine
    // End of stream from the client. With replies still due the session
    // goes on until the last of them is relayed (then End).
    void client_closed(Actions& out);
    void active_opened(const Endpoint& listener, Actions& out);
    void client_leg_ready(Actions& out);
    // The outstanding OpenActive or ExpectClientLeg failed. `reason`
    // completes "425 Cannot open data connection: " (passive_refused too).
    void active_refused(std::string_view reason, Actions& out);
    // The outstanding StartClientTls succeeded: the client speaks TLS now.
    void client_tls_started(Actions& out);

    // Server side. A line is one reply line without its CRLF.
    void server_line(std::string_view line, Actions& out);
    void server_overlong(Actions& out);  // a line over kMaxReplyLine
    // `announced`: what the client is told (PASV: address and port; EPSV:
    // the port).
    void passive_opened(const Endpoint& announced, Actions& out);
    void passive_refused(std::string_view reason, Actions& out);
    // `refusal`: the proxy refused the client's data connection for this
    // reason (a sentence). The client is told so in a 426, whatever the
    // server answered: it saw only its data connection go, and pyftpdlib
    // takes even a reset upload for a complete one (226). A multi-line reply
    // keeps the code its first lines went out with.
    void transfer_finished(Actions& out, std::string_view refusal = {});
    // The outstanding StartServerTls succeeded, or failed for `reason`
    // (completes "421 Service not available: TLS toward the FTP server
    // failed: ").
    void server_tls_started(Actions& out);
    void server_tls_failed(std::string_view reason, Actions& out);

    // Replies the client is due, its own command's included: the session
    // stops reading commands above a bound.
    std::size_t replies_due() const { return pending_.size(); }
    bool ended() const { return ended_; }
    // The name of the client's last USER passed to the server (printable,
    // at most kMaxShownUser bytes), for `ftpproxyctl sessions`; never a
    // password.
    const std::string& user() const { return user_; }
    bool client_tls_active() const { return tls_active_; }
    // The TLS setup toward the server is under way: the client's commands
    // are not to be read until it is over (they would overtake it).
    bool holding_client() const { return server_setup_ != ServerSetup::Done; }

  private:
    // What the next server reply answers.
    enum class Expect {
        Greeting,        // the 220 banner
        Plain,           // relayed unchanged
        Feat,            // relayed without the features the proxy cannot carry
        ClientPasv,      // client PASV: the server's 227/229 becomes a 227
        ClientEpsv,      // client EPSV: ... becomes a 229
        PortViaPassive,  // client PORT/EPRT, server asked for PASV/EPSV
        ActivePort,      // client PORT/EPRT, server got our PORT/EPRT
        Transfer,        // RETR/STOR/LIST...: completion waits for the data
        Quit,
        Login,        // USER/PASS/ACCT: relayed; its final reply is LoginAnswered
        Rein,         // accepted: the proxy's own session state is reset too
        Local,        // not a server reply: the proxy's own, in order
        Unsolicited,  // a multi-line reply nothing asked for, until its last line
        ServerSetup,  // the proxy's own AUTH TLS, PBSZ 0 or PROT P: not relayed
    };
    struct Pending {
        explicit Pending(Expect kind_, std::string text_ = {})
            : kind(kind_), text(std::move(text_)) {}
        Expect kind;
        std::string text;           // Local: the reply; PortViaPassive: the client's verb;
                                    // Transfer: the command, for the transfer log line
        ChannelId channel = 0;      // Transfer: its data connection
        Endpoint client_data;       // PortViaPassive: where the client listens
        bool download = false;      // Transfer: data flows server -> client
        bool server_ready = false;  // Transfer: the server's 1xx came
    };
    // A line of a 227/229 reply held until the reply is complete.
    struct HeldLine {
        std::string line;
        std::size_t text_offset;  // where the text after "227 " / "227-" starts
    };
    // The request a side waits on (see the header comment).
    enum class Awaiting { Nothing, Active, ClientLeg, ClientTls, Passive, Transfer, ServerTls };
    // Where the TLS setup toward the server is (--server-tls).
    enum class ServerSetup { Greeting, Auth, Handshake, Pbsz, Prot, Done };

    // dialogue_commands.cpp
    void handle_command(const Command& command, Actions& out);
    void handle_passive(const Command& command, Actions& out);
    void handle_port(const Command& command, Actions& out);
    void pass_to_server(const Command& command, Pending pending, Actions& out);

    // dialogue_security.cpp: AUTH, PBSZ, PROT, CCC and the TLS policy.
    bool handle_security(const Command& command, Actions& out);
    bool refused_by_tls_policy(const Command& command, Actions& out);
    void handle_auth(const Command& command, Actions& out);
    void handle_pbsz(const Command& command, Actions& out);
    void handle_prot(const Command& command, Actions& out);
    void add_own_features(const ReplyLine& reply, Actions& out);
    std::string request_line() const;

    // dialogue_server_tls.cpp: the setup toward the server.
    void greeting_complete(int code, Actions& out);
    void server_setup_reply(const ReplyLine& reply, std::string_view line, Actions& out);
    void server_setup_done(bool data_protected, Actions& out);
    void server_declined(std::string_view what, std::string_view command, int code,
                         std::string_view line, std::string_view fallback, Actions& out);
    void server_tls_refused(std::string log, std::string what, Actions& out);

    // dialogue_replies.cpp
    void handle_reply(const ReplyLine& reply, std::string_view line, Actions& out);
    void hold_passive_line(const ReplyLine& reply, std::string_view line, Actions& out);
    void complete_passive_reply(int code, Actions& out);
    std::optional<Endpoint> server_data_endpoint(int code, std::string_view text, Actions& out);
    std::string withheld_passive_reply(const ReplyLine& reply, Actions& out);
    void protocol_error(std::string_view what, Actions& out);

    // dialogue.cpp
    void reply_local(std::string text, Actions& out);
    void end(std::string reason, Actions& out);
    void pop_pending(Actions& out);
    void use_channel(ChannelId channel, bool adopt_pipelined, Actions& out);
    void close_prepared(Actions& out);
    ChannelId next_channel() { return ++last_channel_; }
    static void check_idle(Awaiting side, const char* input);
    void refuse(Severity severity, std::string text, Actions& out);
    // The proxy's own refusal of a client's command: counted (Refused),
    // then `reply` in its turn (reply_local).
    void refuse_command(Refusal reason, std::string reply, Actions& out);

    DialogueConfig config_;
    ReplyReader replies_;
    std::deque<Pending> pending_;
    std::vector<HeldLine> held_;  // a multi-line 227/229 being read
    ChannelId prepared_ = 0;      // negotiated, waiting for its transfer command
    std::string user_;
    ChannelId last_channel_ = 0;
    // The request each side waits on, and what it is for.
    struct ClientRequest {
        Awaiting kind = Awaiting::Nothing;  // Active or ClientLeg
        std::string verb;                   // "PORT" / "EPRT"
        Endpoint client_data;
        ChannelId channel = 0;  // Active
    } client_request_;
    struct ServerRequest {
        Awaiting kind = Awaiting::Nothing;  // Passive or Transfer
        ChannelId channel = 0;              // Passive: the new channel
        std::string reply;                  // Transfer: the final reply, relayed after
        bool reply_began = false;           // ... whose earlier lines went out already
    } server_request_;
    bool epsv_all_ = false;
    bool tls_active_ = false;      // the client's control connection is TLS
    bool pbsz_done_ = false;       // PBSZ 0 accepted (RFC 4217: before PROT)
    bool data_protected_ = false;  // PROT P: new data channels' client legs are TLS
    ServerSetup server_setup_ = ServerSetup::Done;
    bool server_tls_active_ = false;      // the connection to the server is TLS
    bool server_data_protected_ = false;  // the server took PROT P: its data legs are TLS
    bool client_closed_ = false;          // EOF from the client with replies still due
    bool ended_ = false;
};

}  // namespace ftp
