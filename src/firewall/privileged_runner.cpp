#include "firewall/privileged_runner.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "common/unique_fd.hpp"
#include "firewall/firewall.hpp"

namespace firewall {
namespace {

// One request or reply per SOCK_SEQPACKET message. Rules for one session are
// a few hundred bytes; this bounds what a confused peer can make us hold.
constexpr std::size_t kMaxMessage = 256 * 1024;

bool is_digits(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// "ftp-proxy/PID.SESSION"
bool is_session_anchor(std::string_view anchor) {
    constexpr std::string_view prefix = "ftp-proxy/";
    if (anchor.substr(0, prefix.size()) != prefix) return false;
    anchor.remove_prefix(prefix.size());
    const auto dot = anchor.find('.');
    return dot != std::string_view::npos && is_digits(anchor.substr(0, dot)) &&
           is_digits(anchor.substr(dot + 1));
}

void put_u32(std::string& out, std::uint32_t value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
void put_string(std::string& out, const std::string& text) {
    put_u32(out, static_cast<std::uint32_t>(text.size()));
    out += text;
}

// A cursor over a received message; every read is bounds-checked.
struct Reader {
    std::string_view data;
    std::optional<std::uint32_t> u32() {
        std::uint32_t value = 0;
        if (data.size() < sizeof value) return std::nullopt;
        std::memcpy(&value, data.data(), sizeof value);
        data.remove_prefix(sizeof value);
        return value;
    }
    std::optional<std::string> string() {
        auto length = u32();
        if (!length || data.size() < *length) return std::nullopt;
        std::string text(data.substr(0, *length));
        data.remove_prefix(*length);
        return text;
    }
};

std::string encode_request(const std::vector<std::string>& argv, const std::string& input) {
    std::string message;
    put_u32(message, static_cast<std::uint32_t>(argv.size()));
    for (const auto& arg : argv) put_string(message, arg);
    put_string(message, input);
    return message;
}

bool decode_request(std::string_view message, std::vector<std::string>& argv, std::string& input) {
    Reader reader{message};
    auto count = reader.u32();
    if (!count || *count > 16) return false;
    for (std::uint32_t i = 0; i < *count; ++i) {
        auto arg = reader.string();
        if (!arg) return false;
        argv.push_back(std::move(*arg));
    }
    auto text = reader.string();
    if (!text || !reader.data.empty()) return false;
    input = std::move(*text);
    return true;
}

std::string encode_reply(const ProgramResult& result) {
    std::string message;
    put_u32(message, static_cast<std::uint32_t>(result.exit_code));
    message += result.output.substr(0, kMaxMessage - sizeof(std::uint32_t));
    return message;
}

// The helper's whole life. Never returns.
[[noreturn]] void serve(int socket, const std::string& pfctl) {
    // Ctrl-C on a foreground worker must not kill the helper before the
    // worker has emptied its anchors; the helper ends with the socket.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    std::string buffer(kMaxMessage, '\0');
    for (;;) {
        const ssize_t n = ::recv(socket, buffer.data(), buffer.size(), 0);
        if (n <= 0) ::_exit(0);
        std::vector<std::string> argv;
        std::string input;
        ProgramResult result;
        if (!decode_request({buffer.data(), static_cast<std::size_t>(n)}, argv, input)) {
            result.output = "refused: malformed request";
        } else if (!pfctl_request_allowed(argv, pfctl)) {
            result.output = "refused: not a pfctl request of the pf backend";
        } else {
            try {
                result = run_program(argv, input);
            } catch (const Error& e) {
                result.output = e.what();
            }
        }
        const std::string reply = encode_reply(result);
        if (::send(socket, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) ::_exit(0);
    }
}

// The worker's end: one request, one reply, in order.
struct Channel {
    common::UniqueFd socket;
    ProgramResult call(const std::vector<std::string>& argv, const std::string& input) {
        const std::string request = encode_request(argv, input);
        if (request.size() > kMaxMessage) throw Error("pfctl request too large");
        if (::send(socket.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0)
            throw Error(std::string("pfctl helper is gone: ") + std::strerror(errno));
        std::string buffer(kMaxMessage, '\0');
        const ssize_t n = ::recv(socket.get(), buffer.data(), buffer.size(), 0);
        if (n <= 0) throw Error("pfctl helper is gone");
        Reader reader{{buffer.data(), static_cast<std::size_t>(n)}};
        ProgramResult result;
        auto code = reader.u32();
        if (!code) throw Error("pfctl helper sent a malformed reply");
        result.exit_code = static_cast<int>(static_cast<std::int32_t>(*code));
        result.output = std::string(reader.data);
        return result;
    }
};

}  // namespace

bool pfctl_request_allowed(const std::vector<std::string>& argv, const std::string& pfctl) {
    if (argv.size() < 4 || argv[0] != pfctl || argv[1] != "-a") return false;
    if (argv.size() == 4) return argv[2] == "ftp-proxy" && argv[3] == "-sA";
    if (argv.size() != 5 || !is_session_anchor(argv[2])) return false;
    return (argv[3] == "-f" && argv[4] == "-") || (argv[3] == "-F" && argv[4] == "rules");
}

ProgramRunner start_privileged_runner(const std::string& pfctl) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw Error(std::string("socketpair: ") + std::strerror(errno));
    common::UniqueFd ours(pair[0]), theirs(pair[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Keep only stdio and the socket: the helper must not hold the
        // worker's listening socket or anything else open.
        const int socket = ::dup2(theirs.get(), 3);
        if (socket < 0) ::_exit(1);
        ::closefrom(4);
        serve(socket, pfctl);
    }
    theirs.reset();
    auto channel = std::make_shared<Channel>();
    channel->socket = std::move(ours);
    return [channel](const std::vector<std::string>& argv, const std::string& input) {
        return channel->call(argv, input);
    };
}

}  // namespace firewall
