// libFuzzer target for src/ftp: the input is a control-connection byte
// stream. It is split by LineBuffer in chunk sizes derived from the data and
// checked against a plain reference splitter; every line then goes through
// parse_command, ReplyReader and all four address parsers, and whatever
// parses must survive format -> parse unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ftp/address_codec.hpp"
#include "ftp/command.hpp"
#include "ftp/limits.hpp"
#include "ftp/line_buffer.hpp"
#include "ftp/reply.hpp"

namespace {

namespace ip = boost::asio::ip;

#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

struct Line {
    std::string text;
    bool overlong = false;
    bool operator==(const Line&) const = default;
};

// What LineBuffer must produce, written the obvious way.
std::vector<Line> reference_lines(std::string_view input, std::size_t capacity) {
    std::vector<Line> lines;
    for (;;) {
        const std::size_t lf = input.find('\n');
        if (lf == std::string_view::npos) {
            if (input.size() >= capacity)
                lines.push_back({std::string(input.substr(0, capacity)), true});
            return lines;
        }
        std::string_view text = input.substr(0, lf);
        if (lf + 1 > capacity) {
            lines.push_back({std::string(text.substr(0, capacity)), true});
        } else {
            if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
            lines.push_back({std::string(text), false});
        }
        input.remove_prefix(lf + 1);
    }
}

// xorshift64*, seeded from the data so that a crash reproduces.
struct Random {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
    }
};

std::uint64_t fnv1a(std::string_view data) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : data) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return hash | 1;  // xorshift state must not be 0
}

std::vector<Line> split(std::string_view input, std::size_t capacity) {
    ftp::LineBuffer buffer(capacity);
    Random random{fnv1a(input)};
    std::vector<Line> lines;
    while (!input.empty()) {
        const std::span<char> space = buffer.prepare();
        FUZZ_CHECK(!space.empty());
        std::size_t n = 1 + random.next() % (2 * capacity);
        n = std::min({n, space.size(), input.size()});
        input.copy(space.data(), n);
        buffer.commit(n);
        input.remove_prefix(n);
        while (const auto line = buffer.next()) {
            FUZZ_CHECK(line->text.size() <= capacity);
            lines.push_back({std::string(line->text), line->overlong});
        }
        FUZZ_CHECK(buffer.pending() < capacity);
    }
    return lines;
}

bool same_endpoint(const ftp::Endpoint& a, const ftp::Endpoint& b) {
    if (a.port() != b.port()) return false;
    if (ftp::is_ipv4_like(a.address()) && ftp::is_ipv4_like(b.address()))
        return ftp::to_ipv4(a.address()) == ftp::to_ipv4(b.address());
    return a.address() == b.address();
}

// Any IPv4-like endpoint must survive all formats; any other, EPRT.
void check_formats(const ftp::Endpoint& endpoint) {
    const auto eprt = ftp::parse_eprt_argument(ftp::format_eprt_argument(endpoint));
    FUZZ_CHECK(eprt && same_endpoint(*eprt, endpoint));
    if (!ftp::is_ipv4_like(endpoint.address())) return;
    FUZZ_CHECK(eprt->address().is_v4());
    const auto port = ftp::parse_port_argument(ftp::format_port_argument(endpoint));
    FUZZ_CHECK(port && same_endpoint(*port, endpoint));
    const std::string reply = ftp::format_227_reply(endpoint);
    const auto passive = ftp::parse_227_text(std::string_view(reply).substr(4));
    FUZZ_CHECK(passive && same_endpoint(*passive, endpoint));
}

void check_address_parsers(std::string_view text) {
    if (const auto endpoint = ftp::parse_port_argument(text)) {
        FUZZ_CHECK(endpoint->address().is_v4() && endpoint->port() != 0);
        FUZZ_CHECK(ftp::format_port_argument(*endpoint).size() <= text.size());
        check_formats(*endpoint);
    }
    const auto protocol = ftp::eprt_protocol(text);
    if (const auto endpoint = ftp::parse_eprt_argument(text)) {
        FUZZ_CHECK(endpoint->port() != 0);
        FUZZ_CHECK(protocol == (endpoint->address().is_v4() ? 1 : 2));
        check_formats(*endpoint);
    }
    if (const auto endpoint = ftp::parse_227_text(text)) {
        FUZZ_CHECK(endpoint->address().is_v4() && endpoint->port() != 0);
        check_formats(*endpoint);
    }
    if (const auto port = ftp::parse_229_text(text)) {
        FUZZ_CHECK(*port != 0);
        const std::string reply = ftp::format_229_reply(*port);
        FUZZ_CHECK(ftp::parse_229_text(std::string_view(reply).substr(4)) == port);
    }
}

bool has_control(std::string_view text) {
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    }
    return false;
}

void check_command(std::string_view line) {
    const auto result = ftp::parse_command(line);
    if (const auto* error = std::get_if<ftp::CommandError>(&result)) {
        FUZZ_CHECK(!ftp::describe(*error).empty());
        return;
    }
    const auto& command = std::get<ftp::Command>(result);
    FUZZ_CHECK(command.verb_text.size() >= 3 && command.verb_text.size() <= 4);
    for (const char c : command.verb_text) {
        FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
    }
    FUZZ_CHECK(!has_control(command.argument));
    FUZZ_CHECK(line.ends_with(command.argument));
    check_address_parsers(command.argument);
}

void check_reply(ftp::ReplyReader& reader, std::string_view line) {
    const bool was_open = reader.inside_multiline();
    const auto result = reader.feed(line);
    if (const auto* error = std::get_if<ftp::ReplyError>(&result)) {
        FUZZ_CHECK(!ftp::describe(*error).empty());
        FUZZ_CHECK(reader.inside_multiline() == was_open);
        return;
    }
    const auto& reply = std::get<ftp::ReplyLine>(result);
    FUZZ_CHECK(reply.code >= 100 && reply.code <= 599);
    FUZZ_CHECK(reply.first == !was_open);
    FUZZ_CHECK(reader.inside_multiline() == !reply.last);
    FUZZ_CHECK(line.ends_with(reply.text));
    if (!reply.first && !reply.last) static_cast<void>(ftp::feature_is_carried(reply.text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    // Small capacities exercise the overlong path; the real ones the parsers.
    const std::size_t capacity =
        size == 0 ? 1
                  : (data[0] & 0x80 ? (data[0] & 0x40 ? ftp::kMaxReplyLine : ftp::kMaxCommandLine)
                                    : 1 + data[0] % 64);
    const std::vector<Line> lines = split(input, capacity);
    FUZZ_CHECK(lines == reference_lines(input, capacity));

    ftp::ReplyReader reader;
    for (const Line& line : lines) {
        check_command(line.text);
        check_reply(reader, line.text);
        check_address_parsers(line.text);
    }

    // Raw bytes as endpoints: every address must format and parse back.
    if (size >= 18) {
        ip::address_v6::bytes_type bytes{};
        std::copy_n(data, bytes.size(), bytes.begin());
        const auto port = static_cast<std::uint16_t>(data[16] << 8 | data[17]);
        if (port != 0) {
            check_formats(ftp::Endpoint(ip::make_address_v6(bytes), port));
            check_formats(ftp::Endpoint(
                ip::make_address_v4(ip::address_v4::bytes_type{data[0], data[1], data[2], data[3]}),
                port));
        }
    }
    return 0;
}
