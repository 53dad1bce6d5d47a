// The control socket: a unix stream socket, mode 0600 (root only) or 0660
// with global.control_group. Each line received is a JSON request, handed
// to the handler; its answer goes back as one line.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "supervisor/asio.hpp"

namespace supervisor {

class ControlServer {
  public:
    using Handler = std::function<awaitable<nlohmann::json>(nlohmann::json)>;

    ControlServer(asio::io_context& io, Handler handler);
    ~ControlServer();

    // Creates the socket file (its directory must exist). A stale file is
    // replaced; a socket where another ftpproxyd answers is not. Throws
    // std::runtime_error with the reason.
    void open(const std::string& path, const std::string& group);
    // Applies a new control_group (reload). Throws like open().
    void set_access(const std::string& group);
    // Stops accepting and removes the socket file.
    void close();

  private:
    awaitable<void> accept_loop();
    awaitable<void> serve(asio::local::stream_protocol::socket socket);

    asio::io_context& io_;
    Handler handler_;
    asio::local::stream_protocol::acceptor acceptor_;
    std::string path_;
};

}  // namespace supervisor
