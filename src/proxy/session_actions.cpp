// The dialogue's decisions carried out: lines written to the client and the
// server, log lines, data channels made, started, finished and closed.
#include <spdlog/spdlog.h>

#include "proxy/net.hpp"
#include "proxy/session.hpp"
#include "proxy/worker_metrics.hpp"

namespace proxy {

// In order, one at a time. A request is the last action of its batch: the
// buffer is emptied before it is carried out, so that the dialogue's answer
// fills it again with what follows.
awaitable<void> Session::carry_out(ftp::Actions& batch) {
    const std::size_t due_before = dialogue_->replies_due();
    std::size_t next = 0;
    while (next < batch.size() && !ended_) {
        ftp::Action action = std::move(batch[next++]);
        if (next == batch.size()) {
            batch.clear();
            next = 0;
        }
        if (auto* line = std::get_if<ftp::action::ToServer>(&action))
            co_await send_to_server(std::move(line->line), line->own);
        else if (auto* finish = std::get_if<ftp::action::FinishTransfer>(&action))
            co_await finish_transfer(*finish, batch);
        else if (auto* passive = std::get_if<ftp::action::OpenPassive>(&action))
            co_await open_passive(*passive, batch);
        else if (auto* active = std::get_if<ftp::action::OpenActive>(&action))
            co_await open_active(*active, batch);
        else if (auto* leg = std::get_if<ftp::action::ExpectClientLeg>(&action))
            co_await expect_client_leg(*leg, batch);
        else if (std::holds_alternative<ftp::action::StartClientTls>(action))
            co_await start_client_tls(batch);
        else if (std::holds_alternative<ftp::action::StartServerTls>(action))
            co_await start_server_tls(batch);
        else
            carry_out_now(action);
    }
    batch.clear();
    if (dialogue_->replies_due() < due_before) replies_popped_.notify();
}

void Session::carry_out_now(ftp::Action& action) {
    namespace act = ftp::action;
    if (auto* line = std::get_if<act::ToClient>(&action)) {
        reply_to_client(line->line);
    } else if (auto* entry = std::get_if<act::Log>(&action)) {
        log(*entry);
    } else if (auto* refused = std::get_if<act::Refused>(&action)) {
        ++metrics().commands_refused[static_cast<std::size_t>(refused->reason)];
    } else if (auto* login = std::get_if<act::LoginAnswered>(&action)) {
        ++(login->ok ? metrics().logins_ok : metrics().logins_failed);
        if (login->ok) logged_in_ = true;
    } else if (std::holds_alternative<act::GreetingReceived>(action)) {
        server_deadline_.cancel();  // greeting_watch: it came
    } else if (auto* both = std::get_if<act::ConnectBoth>(&action)) {
        connect_both(*both);
    } else if (auto* start = std::get_if<act::StartTransfer>(&action)) {
        if (auto channel = find_channel(start->channel))
            channel->start_transfer(std::move(start->command), start->download);
    } else if (auto* ready = std::get_if<act::ServerDataReady>(&action)) {
        if (auto channel = find_channel(ready->channel)) channel->server_ready();
    } else if (auto* close = std::get_if<act::CloseChannel>(&action)) {
        if (auto channel = take_channel(close->channel)) channel->close();
    } else if (auto* end_of = std::get_if<act::End>(&action)) {
        end(end_of->reason);
    }
}

// The server's final reply to a transfer. It releases the end of a
// download's data to the client (held until now: see DataChannel); a
// success reply waits until every byte reached the client. Then (and on any
// other outcome) the channel has done its job: closing it also ends a
// client's half-open data socket. A channel still Waiting never carried data.
awaitable<void> Session::finish_transfer(const ftp::action::FinishTransfer& finish,
                                         ftp::Actions& batch) {
    if (auto channel = find_channel(finish.channel)) {
        channel->server_answered();
        // A TLS leg's upload too: its end toward the client (close_notify,
        // which ftplib's unwrap() waits for) must go out before the close.
        const bool wait_end = finish.download || channel->client_tls();
        if (finish.code < 300 && wait_end && channel->state() != DataPath::State::Waiting)
            co_await channel->wait_server_data_delivered();
        // Listed until here: the tail of a download still reaching the client
        // (a server done sending can be megabytes ahead of it, in the
        // sockets' buffers) is a transfer under way for `ftpproxyctl sessions`.
        take_channel(finish.channel);
        if (finish.code >= 400)
            channel->fail(fmt::format("failed: the server replied {}", finish.code));
        else
            channel->close();
        // A data connection the proxy refused: the failure reply says why
        // (the server only saw its data connection go).
        dialogue_->transfer_finished(batch, channel->client_refusal());
        co_return;
    }
    dialogue_->transfer_finished(batch);
}

void Session::reply_to_client(std::string_view line) {
    if (settings_.verbose) spdlog::info("{} < {}", tag_, line);
    std::string bytes(line);
    bytes += "\r\n";
    writer_.post(bytes);
}

void Session::log(const ftp::action::Log& entry) {
    // Syslog's names to spdlog's (src/common/logging.cpp: info is notice).
    static constexpr spdlog::level::level_enum kLevels[] = {
        spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err};
    const auto level = kLevels[static_cast<int>(entry.severity)];
    if (entry.provoked)
        activity_->log_provoked(level, tag_, "{}", entry.text);
    else
        spdlog::log(level, "{} {}", tag_, entry.text);
}

// Commands are logged by the dialogue (masked, under -v); the proxy's own
// requests here.
awaitable<void> Session::send_to_server(std::string line, bool own) {
    if (own) spdlog::trace("{} to server: {}", tag_, line);
    line += "\r\n";
    error_code error;
    if (server_tls_) {
        // The only writer toward the server at any time (see session.hpp).
        co_await write_server(line, error);
        if (error) end("server write error: " + error.message());
        co_return;
    }
    std::size_t sent = 0;
    // A command line nearly always fits the socket buffer: one non-blocking
    // send now saves a trip through the scheduler (an async_write completes
    // through a posted handler). The rest, if any, goes the asynchronous way.
    if (!server_writing_) {
        sent = server_.write_some(asio::buffer(line), error);
        if (error == asio::error::would_block || error == asio::error::try_again) {
            error.clear();
            sent = 0;
        }
    }
    if (!error && sent < line.size()) {
        server_writing_ = true;
        co_await asio::async_write(server_, asio::buffer(line.data() + sent, line.size() - sent),
                                   with_error(error));
        server_writing_ = false;
    }
    if (error) end("server write error: " + error.message());
}

}  // namespace proxy
