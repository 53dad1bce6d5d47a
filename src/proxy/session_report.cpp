// What `ftpproxyctl sessions` shows of a session: who, where, which user
// (never a password), what it is doing, and for how long.
#include <cmath>

#include "proxy/net.hpp"
#include "proxy/session.hpp"

namespace proxy {
namespace {

double seconds_since(std::chrono::steady_clock::time_point then) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - then).count();
    return std::round(seconds * 10) / 10;  // tenths: enough for an operator
}

}  // namespace

nlohmann::json Session::report() {
    nlohmann::json item = {{"id", id_},
                           {"client", format_endpoint(client_peer_)},
                           {"server", nullptr},
                           {"user", nullptr},
                           {"transfer", nullptr},
                           {"age", seconds_since(started_)},
                           {"idle", seconds_since(last_activity_)}};
    if (server_endpoint_.port() != 0) item["server"] = format_endpoint(server_endpoint_);
    const char* state = "connecting";  // to the server, or its greeting
    if (dialogue_) {
        state = logged_in_ ? "ready" : "login";
        if (!dialogue_->user().empty()) item["user"] = dialogue_->user();
    }
    for (const auto& [id, channel] : channels_) {
        const TransferProgress progress = channel->progress();
        if (progress.command.empty()) continue;
        state = "transfer";
        item["transfer"] = {
            {"command", progress.command},
            {"bytes", progress.bytes},
            {"seconds", std::round(progress.seconds * 10) / 10},
            {"rate", progress.seconds > 0 ? std::llround(progress.bytes / progress.seconds) : 0}};
        break;
    }
    if (ended_) state = "ending";
    item["state"] = state;
    return item;
}

}  // namespace proxy
