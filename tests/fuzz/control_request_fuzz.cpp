// libFuzzer target for the control socket: the input is what a client of
// ftpproxyd's socket sends, one JSON request per line. Each line goes the
// way ControlServer::serve takes it (parse, object check, handler, an
// exception becomes an error answer) to the dispatch of a real Supervisor:
// the checked-in example configuration, no worker started (start() is never
// called, so no process, socket or signal wait exists), its config path one
// that does not exist (a reload is refused, never applied). Invariants:
// - every line gets exactly one answer, at once (no worker to wait for);
// - the answer is an object with a boolean "ok"; a refusal has an "error"
//   that is one non-empty line; it is valid UTF-8 as it stands and survives
//   dump -> parse;
// - ftpproxyctl renders every answer the way it would print it, without
//   an exception;
// - no exception escapes the handler (a request with wrong JSON types is
//   refused in our words, not with the JSON library's exception).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>

#include "config/loader.hpp"
#include "ctl/render.hpp"
#include "fuzz_support.hpp"
#include "supervisor/supervisor.hpp"

namespace {

using nlohmann::json;

constexpr std::size_t kMaxRequests = 16;

// Two instances (reverse and forward) and a firewall, so that rules and
// status have something to render.
constexpr std::string_view kConfig = R"(global:
  firewall: nftables
  rules_file: /nonexistent/ftpproxy.nft
instances:
  - name: ftp01
    listen: 127.0.0.1:8021
    public: 198.18.0.1:21
    interface: eth0
    backend: 198.19.0.1:21
  - name: fwd
    mode: forward
    listen: "[::]:8022"
    interface: eth1
)";

struct World {
    supervisor::asio::io_context io;
    std::unique_ptr<supervisor::Supervisor> daemon;

    World() {
        spdlog::set_level(spdlog::level::off);
        auto loaded = config::load_config_text(kConfig, "fuzz.yaml");
        for (const auto& error : loaded.errors)
            std::fprintf(stderr, "%s\n", to_string(error).c_str());
        FUZZ_CHECK(loaded.config);
        // The Supervisor's signal sets take over these signals; give them
        // back to libFuzzer (nothing here waits for them).
        constexpr std::array kSignals{SIGHUP, SIGTERM, SIGINT, SIGCHLD};
        std::array<struct sigaction, kSignals.size()> saved{};
        for (std::size_t i = 0; i < kSignals.size(); ++i)
            sigaction(kSignals[i], nullptr, &saved[i]);
        supervisor::SupervisorOptions options;
        options.config_path = "/nonexistent/ftpproxy.yaml";
        daemon = std::make_unique<supervisor::Supervisor>(io, options, std::move(*loaded.config));
        for (std::size_t i = 0; i < kSignals.size(); ++i)
            sigaction(kSignals[i], &saved[i], nullptr);
    }
};

json error_answer(std::string message) {
    return {{"ok", false}, {"error", std::move(message)}};
}

// What ControlServer::serve does with one line.
json answer_line(World& world, std::string_view line) {
    json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
        return error_answer("bad request: not a JSON object");
    }
    std::optional<json> answer;
    std::exception_ptr failure;
    supervisor::asio::co_spawn(world.io, world.daemon->handle(std::move(request)),
                               [&](std::exception_ptr error, json result) {
                                   failure = error;
                                   answer = std::move(result);
                               });
    world.io.restart();
    world.io.poll();
    FUZZ_CHECK(answer.has_value());  // answered at once: there is nothing to wait for
    if (!failure) return *answer;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "handler threw %s: %s\n", typeid(error).name(), error.what());
        FUZZ_CHECK(false);
    }
    return {};
}

bool has_control_byte(const std::string& text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string command_of(std::string_view line) {
    const json request = json::parse(line, nullptr, false);
    if (!request.is_object()) return {};
    const auto it = request.find("command");
    return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void check_answer(std::string_view line, const json& answer) {
    FUZZ_CHECK(answer.is_object());
    const auto ok = answer.find("ok");
    FUZZ_CHECK(ok != answer.end() && ok->is_boolean());
    if (!ok->get<bool>()) {
        const auto error = answer.find("error");
        FUZZ_CHECK(error != answer.end() && error->is_string());
        const auto& text = error->get_ref<const std::string&>();
        FUZZ_CHECK(!text.empty());
        // One line, even when it quotes what the request sent.
        FUZZ_CHECK(!has_control_byte(text));
    }
    std::string text;
    try {
        text = answer.dump();  // strict: throws on invalid UTF-8
    } catch (const json::exception& error) {
        std::fprintf(stderr, "answer is not valid JSON text: %s\n", error.what());
        FUZZ_CHECK(false);
    }
    FUZZ_CHECK(json::parse(text) == answer);

    // ftpproxyctl's run(): how it prints each kind of answer.
    const std::string command = command_of(line);
    try {
        if (command == "status") {
            if (ok->get<bool>()) {
                static_cast<void>(ctl::render_status(answer));
                static_cast<void>(ctl::status_exit_code(answer));
            }
        } else if (command == "reload") {
            static_cast<void>(ctl::render_reload(answer));
        } else if (command == "rules") {
            if (ok->get<bool>()) FUZZ_CHECK(answer.at("text").is_string());
        } else {
            static_cast<void>(ctl::render_results(answer));
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ftpproxyctl cannot render the answer: %s\n", error.what());
        FUZZ_CHECK(false);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static World world;
    std::size_t requests = 0;
    for (const std::string_view line : fuzz::lines_of(fuzz::as_text(data, size))) {
        if (++requests > kMaxRequests) break;
        check_answer(line, answer_line(world, line));
    }
    return 0;
}
