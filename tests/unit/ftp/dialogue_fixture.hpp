// The fixture of the ftp::Dialogue unit tests: actions rendered as short
// strings (see dialogue_test.cpp for the notation), inputs fed one at a time.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/net_address.hpp"
#include "ftp/dialogue.hpp"
#include "ftp/limits.hpp"

namespace ftp {
namespace testing_support {

using Lines = std::vector<std::string>;

inline Endpoint ep(const char* address, std::uint16_t port) {
    return {boost::asio::ip::make_address(address), port};
}

inline std::string render(const Action& action) {
    static const char* const kSeverity[] = {"debug", "info", "notice", "warning", "error"};
    struct Visitor {
        std::string operator()(const action::ToClient& a) { return "C " + a.line; }
        std::string operator()(const action::ToServer& a) {
            return (a.own ? "S* " : "S ") + a.line;
        }
        std::string operator()(const action::Log& a) {
            return std::string(a.provoked ? "log! " : "log ") +
                   kSeverity[static_cast<int>(a.severity)] + ": " + a.text;
        }
        std::string operator()(const action::GreetingReceived&) { return "greeting"; }
        std::string operator()(const action::Refused& a) {
            return "refused " + std::string(refusal_name(a.reason));
        }
        std::string operator()(const action::LoginAnswered& a) {
            return std::string("login ") + (a.ok ? "ok" : "failed");
        }
        std::string operator()(const action::OpenPassive& a) {
            return "open-passive " + std::to_string(a.channel) + " " +
                   common::format_endpoint(a.server_data) + (a.client_tls ? " tls" : "") +
                   (a.server_tls ? " server-tls" : "");
        }
        std::string operator()(const action::OpenActive& a) {
            return "open-active " + std::to_string(a.channel) + " " +
                   common::format_endpoint(a.client_data) + (a.client_tls ? " tls" : "") +
                   (a.server_tls ? " server-tls" : "");
        }
        std::string operator()(const action::ExpectClientLeg& a) {
            return "expect-leg " + common::format_endpoint(a.client_data);
        }
        std::string operator()(const action::ConnectBoth& a) {
            return "connect-both " + std::to_string(a.channel) + " " +
                   common::format_endpoint(a.client_data) + " " +
                   common::format_endpoint(a.server_data) + (a.client_tls ? " tls" : "") +
                   (a.server_tls ? " server-tls" : "");
        }
        std::string operator()(const action::StartClientTls&) { return "start-tls"; }
        std::string operator()(const action::StartServerTls&) { return "start-server-tls"; }
        std::string operator()(const action::StartTransfer& a) {
            return "start " + std::to_string(a.channel) + " " + a.command +
                   (a.download ? " down" : " up");
        }
        std::string operator()(const action::ServerDataReady& a) {
            return "server-ready " + std::to_string(a.channel);
        }
        std::string operator()(const action::FinishTransfer& a) {
            return "finish " + std::to_string(a.channel) + " " + std::to_string(a.code) +
                   (a.download ? " down" : " up");
        }
        std::string operator()(const action::CloseChannel& a) {
            return "close " + std::to_string(a.channel);
        }
        std::string operator()(const action::End& a) { return "end: " + a.reason; }
    };
    return std::visit(Visitor{}, action);
}

class DialogueTest : public ::testing::Test {
  protected:
    static DialogueConfig v4_config() {
        DialogueConfig config;
        config.client = boost::asio::ip::make_address("198.18.0.1");
        config.server = boost::asio::ip::make_address("198.18.0.2");
        return config;
    }

    void make(DialogueConfig config) { dialogue_.emplace(std::move(config)); }

    // Each returns what the input made the dialogue do, rendered.
    Lines client(std::string_view line) {
        return run([&](Actions& out) { d().client_line(line, out); });
    }
    Lines server(std::string_view line) {
        return run([&](Actions& out) { d().server_line(line, out); });
    }
    Lines passive_opened(const Endpoint& announced) {
        return run([&](Actions& out) { d().passive_opened(announced, out); });
    }
    Lines active_opened(const Endpoint& listener) {
        return run([&](Actions& out) { d().active_opened(listener, out); });
    }
    Lines client_tls_started() {
        return run([&](Actions& out) { d().client_tls_started(out); });
    }
    Lines server_tls_started() {
        return run([&](Actions& out) { d().server_tls_started(out); });
    }
    Lines server_tls_failed(std::string_view reason) {
        return run([&](Actions& out) { d().server_tls_failed(reason, out); });
    }
    Lines client_overlong() {
        return run([&](Actions& out) { d().client_overlong(out); });
    }
    Lines transfer_finished(std::string_view refusal = {}) {
        return run([&](Actions& out) { d().transfer_finished(out, refusal); });
    }
    // A logged-in session: greeting and USER answered.
    void logged_in() {
        server("220 ready");
        client("USER bob");
        server("230 ok");
    }

    Dialogue& d() {
        if (!dialogue_) make(v4_config());
        return *dialogue_;
    }

    // What the dialogue counted (Refused, LoginAnswered) since the last call:
    // kept out of the lines above, which the exchange tests compare whole.
    Lines tallies() { return std::exchange(tallies_, {}); }
    // The data mode of the last OpenPassive/OpenActive/ConnectBoth.
    std::optional<DataMode> last_mode() const { return last_mode_; }

  private:
  private:
    template <typename Input>
    Lines run(Input input) {
        Actions out;
        input(out);
        Lines lines;
        for (const auto& action : out) {
            if (std::holds_alternative<action::Refused>(action) ||
                std::holds_alternative<action::LoginAnswered>(action))
                tallies_.push_back(render(action));
            else
                lines.push_back(render(action));
            if (const auto* p = std::get_if<action::OpenPassive>(&action)) last_mode_ = p->mode;
            if (const auto* a = std::get_if<action::OpenActive>(&action)) last_mode_ = a->mode;
            if (const auto* b = std::get_if<action::ConnectBoth>(&action)) last_mode_ = b->mode;
        }
        return lines;
    }
    std::optional<Dialogue> dialogue_;
    Lines tallies_;
    std::optional<DataMode> last_mode_;
};

}  // namespace testing_support
}  // namespace ftp
