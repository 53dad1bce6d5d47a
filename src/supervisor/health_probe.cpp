#include "supervisor/health_probe.hpp"

#include <cerrno>
#include <chrono>
#include <memory>

#include "common/printable.hpp"
#include "ftp/reply.hpp"

namespace supervisor {

namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;

// A greeting or login reply longer than this is not a server we want.
constexpr std::size_t kMaxReply = 4096;
// What a failure's detail shows of a reply line.
constexpr std::size_t kMaxShown = 80;

struct Reply {
    int code = 0;
    std::string last_line;
};

// Reads one whole reply (multi-line ones to their last line). No reply: an
// error, or code 0 when the server sent something that is not FTP.
// Stream: the socket, or the TLS stream over it.
template <typename Stream>
awaitable<Reply> read_reply(Stream& socket, std::string& buffer, error_code& error) {
    ftp::ReplyReader reader;
    for (;;) {
        const std::size_t n = co_await asio::async_read_until(
            socket, asio::dynamic_buffer(buffer, kMaxReply), '\n', with_error(error));
        if (error) co_return Reply{};
        std::string line = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto parsed = reader.feed(line);
        const auto* reply = std::get_if<ftp::ReplyLine>(&parsed);
        if (reply == nullptr) co_return Reply{0, line};
        if (reply->last) co_return Reply{reply->code, line};
    }
}

template <typename Stream>
awaitable<void> send_line(Stream& stream, std::string line, error_code& error) {
    line += "\r\n";
    co_await asio::async_write(stream, asio::buffer(line), with_error(error));
}

std::string shown(const std::string& line) {
    return common::printable(line.substr(0, kMaxShown));
}

std::string millis(milliseconds value) {
    return std::to_string(value.count()) + " ms";
}

// AUTH TLS, the handshake and the certificate's checks, as the worker's
// server leg makes them. Empty: `secured` is the TLS stream (or, auto and
// refused, null: clear text goes on); else why the check failed.
awaitable<std::string> secure(tcp::socket& socket, std::string& buffer,
                              const config::Backend& backend, const ProbeTls& tls,
                              std::string& step, std::unique_ptr<proxy::TlsStream>& secured) {
    error_code error;
    step = "AUTH TLS";
    co_await send_line(socket, "AUTH TLS", error);
    Reply reply;
    if (!error) reply = co_await read_reply(socket, buffer, error);
    if (error) co_return error.message();
    if (reply.code != 234) co_return tls.required ? shown(reply.last_line) : std::string();
    step = "TLS handshake";
    // Taken as replies, bytes behind the 234 would pass for protected ones.
    if (!buffer.empty()) co_return "the server sent clear text after its 234";
    proxy::ServerTlsPolicy policy = tls.policy;
    if (policy.name.empty()) policy.name = backend.host;
    secured = std::make_unique<proxy::TlsStream>(socket, *policy.context);
    proxy::prepare_server_leg(*secured, policy);
    co_await secured->async_handshake(asio::ssl::stream_base::client, with_error(error));
    co_return proxy::server_leg_problem(*secured, policy, error);
}

// USER/PASS when the check has a user (the reply must be 230), then QUIT.
// The code of the last reply ("220" without a login), or why it failed.
template <typename Stream>
awaitable<std::string> log_in(Stream& stream, std::string& buffer, const config::HealthCheck& check,
                              std::string& step) {
    error_code error;
    std::string code = "220";
    if (!check.user.empty()) {
        step = "login";
        co_await send_line(stream, "USER " + check.user, error);
        Reply reply;
        if (!error) reply = co_await read_reply(stream, buffer, error);
        if (!error && reply.code == 331) {
            co_await send_line(stream, "PASS " + check.password, error);
            if (!error) reply = co_await read_reply(stream, buffer, error);
        }
        if (error) co_return error.message();
        if (reply.code != 230) co_return shown(reply.last_line);
        code = "230";
    }
    // A polite end; its answer is not waited for.
    co_await send_line(stream, "QUIT", error);
    co_return code;
}

// The check itself; `step` names where it is, for the timeout's message.
awaitable<ProbeResult> run_check(tcp::resolver& resolver, tcp::socket& socket,
                                 const config::Backend& backend,
                                 const std::optional<common::IpAddress>& source,
                                 const config::HealthCheck& check, const ProbeTls* tls,
                                 std::string& step) {
    error_code error;
    step = "resolve " + backend.host;
    const auto found =
        co_await resolver.async_resolve(backend.host, std::to_string(backend.port),
                                        tcp::resolver::numeric_service, with_error(error));
    if (error) co_return ProbeResult{false, step + ": " + error.message(), std::nullopt, {}};
    std::optional<tcp::endpoint> target;
    for (const auto& entry : found) {
        if (!source || entry.endpoint().address().is_v4() == source->is_v4()) {
            target = entry.endpoint();
            break;
        }
    }
    if (!target) co_return ProbeResult{false, step + ": no address of the source's family", {}, {}};

    step = "connect " + common::format_endpoint(target->address(), target->port());
    socket.open(target->protocol(), error);
    // The source is often a CARP address of the inside (one source for the
    // servers whichever node is master): a backup node does not hold it, and
    // must still find out whether it could serve. It checks from its own
    // address then, and says so.
    std::string from;
    if (!error && source) {
        socket.bind(tcp::endpoint(*source, 0), error);
        if (error.value() == EADDRNOTAVAIL) {
            error = {};
            from = " (from this node's own address: source " + source->to_string() +
                   " is not on this node)";
        }
    }
    if (!error) co_await socket.async_connect(*target, with_error(error));
    if (error) co_return ProbeResult{false, step + from + ": " + error.message(), target, {}};

    std::string buffer;
    step = "greeting";
    const Reply reply = co_await read_reply(socket, buffer, error);
    if (error) co_return ProbeResult{false, step + ": " + error.message(), target, {}};
    if (reply.code != 220)
        co_return ProbeResult{false, step + ": " + shown(reply.last_line), target, {}};
    std::unique_ptr<proxy::TlsStream> secured;
    if (tls) {
        std::string problem = co_await secure(socket, buffer, backend, *tls, step, secured);
        if (!problem.empty()) co_return ProbeResult{false, step + ": " + problem, target, {}};
    }
    std::string outcome;
    if (secured) {
        outcome = co_await log_in(*secured, buffer, check, step);
        if (outcome.starts_with('2')) outcome += " over " + proxy::describe_tls(*secured);
    } else {
        outcome = co_await log_in(socket, buffer, check, step);
    }
    if (!outcome.starts_with('2')) co_return ProbeResult{false, step + ": " + outcome, target, {}};
    co_return ProbeResult{true, outcome, target, from};
}

}  // namespace

std::optional<ProbeTls> probe_tls_for(const config::TlsSettings& tls) {
    if (tls.server == config::ServerTls::off) return std::nullopt;
    ProbeTls probe;
    probe.required = tls.server == config::ServerTls::required;
    probe.policy.name = tls.server_name;
    if (!tls.server_fingerprint.empty())
        probe.policy.pin = proxy::parse_fingerprint(tls.server_fingerprint);
    const proxy::TlsTuning tuning{tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION,
                                  tls.ciphers};
    probe.policy.context =
        proxy::make_client_tls_context(tls.server_ca, probe.policy.pin.has_value(), tuning);
    return probe;
}

awaitable<ProbeResult> probe_backend(config::Backend backend,
                                     std::optional<common::IpAddress> source,
                                     config::HealthCheck check,
                                     std::shared_ptr<const ProbeTls> tls) {
    auto executor = co_await asio::this_coro::executor;
    const auto started = std::chrono::steady_clock::now();
    // Shared with the deadline's handler, which may already be queued when
    // the check ends: it must find the socket alive, and `done` set.
    struct Probe {
        explicit Probe(const asio::any_io_executor& executor)
            : resolver(executor), socket(executor) {}
        tcp::resolver resolver;
        tcp::socket socket;
        bool expired = false;
        bool done = false;
    };
    auto probe = std::make_shared<Probe>(executor);
    asio::steady_timer deadline(executor, check.timeout);
    deadline.async_wait([probe](error_code error) {
        if (error || probe->done) return;
        probe->expired = true;
        probe->resolver.cancel();
        error_code ignored;
        probe->socket.close(ignored);
    });
    std::string step;
    ProbeResult result =
        co_await run_check(probe->resolver, probe->socket, backend, source, check, tls.get(), step);
    probe->done = true;
    deadline.cancel();
    error_code ignored;
    probe->socket.close(ignored);
    if (probe->expired) {
        result.ok = false;
        result.detail = step + ": no answer within " + millis(check.timeout);
    } else if (result.ok) {
        const auto took =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
        result.detail += " after " + millis(took) + result.note;
    }
    co_return result;
}

}  // namespace supervisor
