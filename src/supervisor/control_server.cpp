#include "supervisor/control_server.hpp"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/control_protocol.hpp"

namespace supervisor {

namespace {

using nlohmann::json;
using local = asio::local::stream_protocol;

// Whether a live server answers on `path` (another ftpproxyd).
bool someone_listens(const std::string& path) {
    asio::io_context probe_io;
    local::socket probe(probe_io);
    error_code error;
    probe.connect(local::endpoint(path), error);
    return !error;
}

namespace control = common::control;
using control::error_answer;

}  // namespace

ControlServer::ControlServer(asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)), acceptor_(io) {}

ControlServer::~ControlServer() {
    close();
}

void ControlServer::open(const std::string& path, const std::string& group) {
    struct stat info {};
    if (lstat(path.c_str(), &info) == 0) {
        if (!S_ISSOCK(info.st_mode)) {
            throw std::runtime_error("control socket " + path +
                                     " exists and is not a socket; remove it or choose another "
                                     "global.control_socket");
        }
        if (someone_listens(path)) {
            throw std::runtime_error("another ftpproxyd is already running on " + path);
        }
        ::unlink(path.c_str());  // left over from a process that was killed
    }
    // The file is created 0600 and only then opened to a group: no window
    // in which others may connect.
    const mode_t old_mask = ::umask(0177);
    error_code error;
    acceptor_.open(local(), error);
    if (!error) acceptor_.bind(local::endpoint(path), error);
    ::umask(old_mask);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
        acceptor_.close(error);
        throw std::runtime_error("cannot create control socket " + path + ": " + error.message());
    }
    path_ = path;
    set_access(group);
    asio::co_spawn(io_, accept_loop(), asio::detached);
}

void ControlServer::set_access(const std::string& group) {
    if (path_.empty()) return;
    gid_t gid = getegid();
    mode_t mode = 0600;
    if (!group.empty()) {
        const ::group* entry = getgrnam(group.c_str());
        if (!entry) {
            throw std::runtime_error("control_group '" + group + "' does not exist (create it " +
                                     "with `groupadd --system " + group + "`)");
        }
        gid = entry->gr_gid;
        mode = 0660;
    }
    if (::chown(path_.c_str(), geteuid(), gid) != 0 || ::chmod(path_.c_str(), mode) != 0) {
        throw std::runtime_error("cannot set the owner or mode of " + path_ + ": " +
                                 std::strerror(errno));
    }
}

void ControlServer::close() {
    if (path_.empty()) return;
    error_code ignored;
    acceptor_.close(ignored);
    ::unlink(path_.c_str());
    path_.clear();
}

awaitable<void> ControlServer::accept_loop() {
    for (;;) {
        error_code error;
        local::socket socket = co_await acceptor_.async_accept(with_error(error));
        if (error == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        if (error) {
            spdlog::error("control socket: accept failed: {}", error.message());
            continue;
        }
        asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
}

awaitable<void> ControlServer::serve(local::socket socket) {
    std::string buffer;
    for (;;) {
        error_code error;
        const std::size_t length = co_await asio::async_read_until(
            socket, asio::dynamic_buffer(buffer, control::kMaxLine), '\n', with_error(error));
        if (error) co_return;  // the client is done (or sent a line over the limit)
        const std::string line = buffer.substr(0, length - 1);
        buffer.erase(0, length);
        std::optional<json> request = control::decode_line(line);
        json answer;
        if (!request) {
            answer = error_answer("bad request: not a JSON object");
        } else {
            try {
                answer = co_await handler_(std::move(*request));
            } catch (const std::exception& e) {
                spdlog::error("control request failed: {}", e.what());
                answer = error_answer(std::string("internal error: ") + e.what());
            }
        }
        const std::string text = control::encode_line(answer);
        co_await asio::async_write(socket, asio::buffer(text), with_error(error));
        if (error) co_return;
    }
}

}  // namespace supervisor
