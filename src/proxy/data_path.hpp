// One data connection of a session as the session drives it, whichever way
// its bytes go: relayed by the worker (DataChannel) or forwarded by the
// firewall's kernel, which the worker only follows (KernelChannel, the
// --data-path kernel of issue 13).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proxy/asio.hpp"

namespace proxy {

// A transfer under way, for `ftpproxyctl sessions`.
struct TransferProgress {
    std::string command;      // "RETR pub/big.bin"; empty: no transfer started
    std::uint64_t bytes = 0;  // both directions so far
    double seconds = 0;       // since the data connection began to carry it
};

class DataPath {
  public:
    enum class State { Waiting, Connecting, Relaying, Finished };

    virtual ~DataPath() = default;
    // Starts accepting/connecting (or following).
    virtual void start() = 0;
    // A transfer command went to the server: the data connection is due now.
    virtual void start_transfer(std::string command, bool download) = 0;
    // The server's 1xx to the transfer command.
    virtual void server_ready() = 0;
    // The server's final reply to the transfer command arrived.
    virtual void server_answered() = 0;
    // The session is done with it; `reason` names an abort in the log line.
    virtual void close(std::string_view reason = "aborted by the session") = 0;
    // Closes, and logs the transfer as failed for `reason` in any case.
    virtual void fail(std::string_view reason) = 0;
    // Called once, when the one expected connection arrived.
    virtual void on_accepted(std::function<void()> callback) = 0;
    virtual State state() const = 0;
    // The client's leg is (to be) TLS.
    virtual bool client_tls() const = 0;
    // Why the client's data connection was refused, for the client's reply
    // (empty: it was not).
    virtual const std::string& client_refusal() const = 0;
    // Completes when every byte the server sent has reached the client as
    // far as the worker can tell (at once where the worker is not in the
    // path), or the channel was closed.
    virtual awaitable<void> wait_server_data_delivered() = 0;
    // Brings the session's count of moved bytes (SessionActivity, the idle
    // timeout's measure) up to date where the worker does not see them
    // move: the kernel data path asks conntrack. A relay counts as it goes.
    virtual void count_activity() {}
    virtual TransferProgress progress() = 0;
};

}  // namespace proxy
