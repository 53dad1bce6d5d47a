// The worker's side of the supervisor's control socketpair (--control-fd).
//
// Line protocol, one request per line, one JSON line per answer:
//   stats  -> {"sessions":N,"accepted":N}
//   drain  -> {"ok":true}   (as SIGUSR1: stop accepting, exit after the last session)
//   backend ADDRESS PORT -> {"ok":true} or {"error":"..."}
//            (reverse mode: new sessions go to this server; running ones
//            stay with theirs. ftpproxyd sends it when its health checks
//            move the instance to another backend.)
//   sessions -> {"sessions":[{"id":N,"client":...,"user":...,"state":...},...]}
//   kill ID  -> {"ok":true} (the session got a 421) or {"error":"no session ID"}
//   other  -> {"error":"unknown request"}
// Data never passes here; the supervisor asks, the worker answers.
#pragma once

#include <functional>
#include <string>

#include "proxy/asio.hpp"

namespace proxy {

class ControlChannel {
  public:
    struct Handlers {
        std::function<std::string()> stats_json;
        std::function<void()> drain;
        // "" when switched, else why not.
        std::function<std::string(const std::string& address, const std::string& port)> backend;
        std::function<std::string()> sessions_json;
        // "" when the session was ended, else why not.
        std::function<std::string(const std::string& id)> kill;
    };
    ControlChannel(asio::io_context& io, int fd, Handlers handlers);
    void start();
    void close();

  private:
    awaitable<void> serve();
    std::string answer(const std::string& request);

    asio::local::stream_protocol::socket socket_;
    Handlers handlers_;
};

}  // namespace proxy
