// libFuzzer target for ftp::Dialogue, the session logic: the input is a
// sequence of events, one per line, driven the way the worker's Session
// drives the dialogue (requests answered at once, opened or refused at
// random, client lines read only while fewer than kMaxPendingReplies replies
// are due):
//   c<command line>   s<reply line>   C client line too long
//   S server line too long   e client end of stream
// Every server line is tagged " {k}" with the number of the command it
// answers (the oldest the harness has sent to the server and not seen
// answered), so the client side can tell whose reply it got.
// Invariants:
// - every command is answered exactly once, in order: each final reply to
//   the client is the tagged reply of the command whose turn it is, or the
//   proxy's own answer to it (a command the proxy answers itself gets a reply
//   without a tag; PASV/EPSV/PORT/EPRT may get the proxy's rewrite); at the
//   end, with the server answering what is left, nothing is due;
// - the client always reads well-formed replies (one of the proxy's own
//   never lands inside a multi-line reply); lines carry no CR, LF or NUL;
//   the server gets only lines without control bytes;
// - queues are bounded: replies due <= kMaxPendingReplies + 1, data
//   channels alive <= replies due + 2;
// - requests: always the last action of a batch; channel ids are new when
//   opened, and only channels alive are started (once), finished or closed;
// - nothing comes out after End;
// - --server-tls: no client line is read while the setup toward the server
//   is under way, the setup's own commands (AUTH TLS, PBSZ, PROT) go out
//   only then, and no reply to them ever reaches the client (the server
//   tags them {setup}).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ftp/command.hpp"
#include "ftp/dialogue.hpp"
#include "ftp/reply.hpp"
#include "fuzz_support.hpp"

namespace {

// Replies due the worker reads commands below (proxy/settings.hpp).
constexpr std::size_t kMaxPendingReplies = 64;
constexpr std::size_t kMaxEvents = 4096;

struct Expected {
    std::size_t tag;   // the command's number
    bool local;        // answered by the proxy itself
    bool may_rewrite;  // PASV/EPSV/PORT/EPRT: the proxy may answer in its own words
};

class Harness {
  public:
    Harness(fuzz::Random& random, ftp::DialogueConfig config)
        : random_(random), dialogue_(std::move(config)) {
        expected_.push_back({0, false, false});  // the greeting
    }

    void client(std::string_view line, bool overlong) {
        if (client_closed_ || dialogue_.replies_due() >= kMaxPendingReplies) return;
        if (dialogue_.holding_client()) return;  // the session does not read it
        const std::size_t tag = ++commands_;
        // Local until the dialogue sends something to the server for it; a
        // reply of the proxy's own may come in the same batch.
        expected_.push_back({tag, true, !overlong && is_data_verb(line)});
        if (trace_) std::fprintf(stderr, "client #%zu: %.*s\n", tag, int(line.size()), line.data());
        ftp::Actions out;
        if (overlong)
            dialogue_.client_overlong(out);
        else
            dialogue_.client_line(line, out);
        carry_out(out, false);
    }

    void server(std::string_view raw, bool overlong) {
        std::string line(raw);
        for (char& c : line)
            if (c == '{' || c == '}') c = '(';  // tags are the harness's own
        const auto turn = next_server_turn();
        const bool setup = setup_due_ > 0;
        line += " {" + (setup ? std::string("setup") : turn ? std::to_string(*turn) : "u") + "}";
        // The reply the server starts or goes on with is unsolicited when no
        // command waits for one: the client's first final reply then is its.
        const bool unsolicited = !setup && (!turn || unsolicited_open_);
        skip_final_ = unsolicited && !overlong;
        if (!overlong) {
            auto parsed = server_reader_.feed(line);
            if (auto* reply = std::get_if<ftp::ReplyLine>(&parsed)) {
                if (reply->first) open_code_ = reply->code;
                if (unsolicited) unsolicited_open_ = !reply->last;
                if (setup && reply->last && !ftp::is_preliminary(reply->code)) --setup_due_;
            }
        }
        if (trace_)
            std::fprintf(stderr, "server: %s (due %zu)\n", line.c_str(), dialogue_.replies_due());
        ftp::Actions out;
        if (overlong)
            dialogue_.server_overlong(out);
        else
            dialogue_.server_line(line, out);
        carry_out(out, true);
        skip_final_ = false;
    }

    void client_closed() {
        if (client_closed_) return;
        client_closed_ = true;
        ftp::Actions out;
        dialogue_.client_closed(out);
        carry_out(out, false);
    }

    // The server answers whatever is left; then nothing may be due.
    void drain() {
        for (std::size_t i = 0; i < 4 * kMaxPendingReplies && !ended_; ++i) {
            if (dialogue_.replies_due() == 0) break;
            server(server_reader_.inside_multiline() ? std::to_string(open_code_) + " end"
                                                     : "200 done",
                   false);
        }
        if (ended_) return;
        FUZZ_CHECK(dialogue_.replies_due() == 0);
        FUZZ_CHECK(expected_.empty());
    }

  private:
    static bool is_data_verb(std::string_view line) {
        auto parsed = ftp::parse_command(line);
        const auto* command = std::get_if<ftp::Command>(&parsed);
        if (!command) return false;
        using ftp::Verb;
        return command->verb == Verb::Pasv || command->verb == Verb::Epsv ||
               command->verb == Verb::Port || command->verb == Verb::Eprt;
    }

    // The oldest command sent to the server and not answered yet.
    std::optional<std::size_t> next_server_turn() const {
        for (const auto& expected : expected_)
            if (!expected.local) return expected.tag;
        return std::nullopt;
    }

    void carry_out(ftp::Actions& batch, bool server_side) {
        FUZZ_CHECK(batch.empty() || !ended_);  // nothing after End
        while (!batch.empty()) {
            ftp::Actions answer;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const bool last = i + 1 == batch.size();
                FUZZ_CHECK(!is_request(batch[i]) || last);
                one(batch[i], answer, server_side);
            }
            batch = std::move(answer);
        }
        FUZZ_CHECK(dialogue_.replies_due() <= kMaxPendingReplies + 1);
        FUZZ_CHECK(channels_.size() <= dialogue_.replies_due() + 2);
    }

    static bool is_request(const ftp::Action& action) {
        return std::holds_alternative<ftp::action::OpenPassive>(action) ||
               std::holds_alternative<ftp::action::OpenActive>(action) ||
               std::holds_alternative<ftp::action::ExpectClientLeg>(action) ||
               std::holds_alternative<ftp::action::StartClientTls>(action) ||
               std::holds_alternative<ftp::action::StartServerTls>(action) ||
               std::holds_alternative<ftp::action::FinishTransfer>(action);
    }

    void open(ftp::ChannelId id) {
        FUZZ_CHECK(id > last_id_);
        last_id_ = id;
        channels_[id] = false;
    }

    bool refuse() { return random_.next() % 4 == 0; }
    // What the session says of a data connection it refused: it replaces
    // the server's text (and tag) in the transfer's final reply.
    static constexpr const char* kRefusal = "Data connection refused: test.";

    void one(const ftp::Action& action, ftp::Actions& answer, bool server_side) {
        namespace act = ftp::action;
        if (const auto* line = std::get_if<act::ToClient>(&action)) {
            to_client(line->line);
        } else if (const auto* line = std::get_if<act::ToServer>(&action)) {
            for (char c : line->line)
                FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
            if (server_side) {  // the TLS setup's own command
                FUZZ_CHECK(dialogue_.holding_client() && setup_due_ == 0);
                ++setup_due_;
                return;
            }
            FUZZ_CHECK(!expected_.empty() && expected_.back().tag == commands_);
            expected_.back().local = false;
        } else if (const auto* passive = std::get_if<act::OpenPassive>(&action)) {
            FUZZ_CHECK(server_side);
            if (refuse()) {
                dialogue_.passive_refused("refused", answer);
            } else {
                open(passive->channel);
                dialogue_.passive_opened({boost::asio::ip::make_address("198.18.0.3"), 40000},
                                         answer);
            }
        } else if (const auto* active = std::get_if<act::OpenActive>(&action)) {
            FUZZ_CHECK(!server_side);
            if (refuse()) {
                dialogue_.active_refused("refused", answer);
            } else {
                open(active->channel);
                dialogue_.active_opened({boost::asio::ip::make_address("198.18.0.3"), 40001},
                                        answer);
            }
        } else if (std::holds_alternative<act::ExpectClientLeg>(action)) {
            FUZZ_CHECK(!server_side);
            if (refuse())
                dialogue_.active_refused("refused", answer);
            else
                dialogue_.client_leg_ready(answer);
        } else if (std::holds_alternative<act::StartClientTls>(action)) {
            // A failed handshake ends the session outside the dialogue.
            FUZZ_CHECK(!server_side && dialogue_.replies_due() == 0);
            dialogue_.client_tls_started(answer);
        } else if (std::holds_alternative<act::StartServerTls>(action)) {
            FUZZ_CHECK(server_side && dialogue_.holding_client());
            if (refuse())
                dialogue_.server_tls_failed("refused", answer);
            else
                dialogue_.server_tls_started(answer);
        } else if (const auto* both = std::get_if<act::ConnectBoth>(&action)) {
            open(both->channel);
        } else if (const auto* start = std::get_if<act::StartTransfer>(&action)) {
            FUZZ_CHECK(channels_.count(start->channel) == 1 && !channels_[start->channel]);
            channels_[start->channel] = true;
        } else if (const auto* ready = std::get_if<act::ServerDataReady>(&action)) {
            FUZZ_CHECK(channels_.count(ready->channel) == 1 && channels_[ready->channel]);
        } else if (const auto* finish = std::get_if<act::FinishTransfer>(&action)) {
            FUZZ_CHECK(server_side);
            FUZZ_CHECK(channels_.count(finish->channel) == 1 && channels_[finish->channel]);
            channels_.erase(finish->channel);
            // (--client-tls-reuse: the session refused the client's leg.)
            dialogue_.transfer_finished(answer, refuse() ? kRefusal : "");
        } else if (const auto* close = std::get_if<act::CloseChannel>(&action)) {
            FUZZ_CHECK(channels_.erase(close->channel) == 1);
        } else if (std::holds_alternative<act::End>(action)) {
            FUZZ_CHECK(dialogue_.ended());
            ended_ = true;
        }
    }

    void to_client(const std::string& line) {
        if (trace_) std::fprintf(stderr, "  to client: %s\n", line.c_str());
        for (char c : line) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
        // No line of a reply to the TLS setup's own commands, inner or last.
        FUZZ_CHECK(line.find("{setup}") == std::string::npos);
        if (ended_) return;
        auto parsed = client_reader_.feed(line);
        const auto* reply = std::get_if<ftp::ReplyLine>(&parsed);
        FUZZ_CHECK(reply != nullptr);  // well formed, as the client reads it
        if (!reply->last) return;
        if (std::exchange(skip_final_, false)) return;  // the unsolicited reply itself
        if (ftp::is_preliminary(reply->code)) return;
        if (expected_.empty()) {  // nothing due: only the 421 of a broken server
            FUZZ_CHECK(line.starts_with("421 "));
            return;
        }
        const Expected expected = expected_.front();
        expected_.pop_front();
        const auto tag = tag_of(line);
        if (expected.local) {
            FUZZ_CHECK(!tag);
        } else if (tag) {
            FUZZ_CHECK(*tag == std::to_string(expected.tag));
        } else {
            FUZZ_CHECK(expected.may_rewrite ||
                       line.find("Passive reply withheld by the proxy") != std::string::npos ||
                       line.find(kRefusal) != std::string::npos || line.starts_with("421 "));
        }
    }

    static std::optional<std::string> tag_of(std::string_view line) {
        const auto open = line.rfind(" {");
        if (open == std::string_view::npos) return std::nullopt;
        const auto close = line.find('}', open);
        if (close == std::string_view::npos) return std::nullopt;
        return std::string(line.substr(open + 2, close - open - 2));
    }

    fuzz::Random& random_;
    ftp::Dialogue dialogue_;
    ftp::ReplyReader server_reader_, client_reader_;
    std::deque<Expected> expected_;
    std::map<ftp::ChannelId, bool> channels_;  // alive, and whether started
    ftp::ChannelId last_id_ = 0;
    std::size_t commands_ = 0;
    std::size_t setup_due_ = 0;  // the TLS setup's own command, unanswered
    int open_code_ = 0;          // of the server's reply being read, when multi-line
    bool unsolicited_open_ = false;
    bool skip_final_ = false;
    bool client_closed_ = false;
    bool ended_ = false;
    // FUZZ_TRACE=1 ftp_dialogue_fuzz CRASH: the events and replies, to triage.
    const bool trace_ = std::getenv("FUZZ_TRACE") != nullptr;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = fuzz::as_text(data, size);
    fuzz::Random random{fuzz::fnv1a(input)};
    ftp::DialogueConfig config;
    const auto flags = random.next();
    config.anonymous_only = flags & 1;
    config.passive_to_server = flags & 2;
    config.verbose = flags & 4;
    config.client_ipv4 = !(flags & 8);
    config.server_ipv4 = !(flags & 16);
    // --client-tls off, optional, required (and off again).
    config.client_tls = static_cast<ftp::ClientTls>((flags >> 5) % 3);
    // --server-tls off, auto, required.
    config.server_tls = static_cast<ftp::ServerTls>((flags >> 7) % 3);
    config.client = boost::asio::ip::make_address(config.client_ipv4 ? "198.18.0.1" : "fd18::1");
    config.server = boost::asio::ip::make_address(config.server_ipv4 ? "198.18.0.2" : "fd18::2");
    Harness harness(random, config);
    std::size_t events = 0;
    for (const std::string_view line : fuzz::lines_of(input)) {
        if (++events > kMaxEvents || line.empty()) continue;
        const auto rest = line.substr(1);
        switch (line[0]) {
            case 'c':
                harness.client(rest, false);
                break;
            case 'C':
                harness.client({}, true);
                break;
            case 's':
                harness.server(rest, false);
                break;
            case 'S':
                harness.server({}, true);
                break;
            case 'e':
                harness.client_closed();
                break;
            default:
                break;
        }
    }
    harness.drain();
    return 0;
}
