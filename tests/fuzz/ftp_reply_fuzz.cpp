// libFuzzer target for ftp::ReplyReader: the input is what a server sends,
// one reply line per line, multi-line replies included. Invariants:
// - every result, and the reader's multi-line state, equals a reference
//   state machine written from RFC 959 4.2 (errors leave the state alone);
// - a reply line's code is 100..599, its text is the end of the line, and
//   the lines of one reply share its code: first opens, last closes, a
//   closing line is "ddd" or "ddd " with the opening code;
// - the FEAT filter drops exactly the RFC 2228 features, in any case.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ftp/reply.hpp"
#include "fuzz_support.hpp"

namespace {

struct Reference {
    int open_code = 0;

    static bool bad_byte(char c) {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\t') || byte == 0x7f;
    }

    static int code_of(std::string_view line) {
        if (line.size() < 3) return 0;
        for (std::size_t i = 0; i < 3; ++i) {
            if (line[i] < '0' || line[i] > '9') return 0;
        }
        const int code = std::stoi(std::string(line.substr(0, 3)));
        return code >= 100 && code <= 599 ? code : 0;
    }

    static std::string_view text_of(std::string_view line) {
        return line.size() > 3 ? line.substr(4) : std::string_view{};
    }

    std::variant<ftp::ReplyLine, ftp::ReplyError> feed(std::string_view line) {
        for (const char c : line) {
            if (bad_byte(c)) return ftp::ReplyError::ControlCharacter;
        }
        const int code = code_of(line);
        if (open_code != 0) {
            const bool closes = code == open_code && (line.size() == 3 || line[3] == ' ');
            if (!closes) return ftp::ReplyLine{open_code, false, false, line};
            open_code = 0;
            return ftp::ReplyLine{code, false, true, text_of(line)};
        }
        if (code == 0) return ftp::ReplyError::BadCode;
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
            return ftp::ReplyError::BadSeparator;
        const bool opens = line.size() > 3 && line[3] == '-';
        if (opens) open_code = code;
        return ftp::ReplyLine{code, true, !opens, text_of(line)};
    }
};

bool same(const std::variant<ftp::ReplyLine, ftp::ReplyError>& a,
          const std::variant<ftp::ReplyLine, ftp::ReplyError>& b) {
    if (a.index() != b.index()) return false;
    if (const auto* error = std::get_if<ftp::ReplyError>(&a))
        return *error == std::get<ftp::ReplyError>(b);
    const auto& x = std::get<ftp::ReplyLine>(a);
    const auto& y = std::get<ftp::ReplyLine>(b);
    return x.code == y.code && x.first == y.first && x.last == y.last && x.text == y.text;
}

// The FEAT filter, from its documentation.
bool reference_carried(std::string_view line) {
    static constexpr std::array<std::string_view, 8> kDropped{"AUTH", "PBSZ", "PROT", "CCC",
                                                              "ADAT", "CONF", "ENC",  "MIC"};
    std::size_t start = 0;
    while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
    std::size_t end = start;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    std::string word(line.substr(start, end - start));
    for (char& c : word) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    for (const std::string_view dropped : kDropped) {
        if (word == dropped) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ftp::ReplyReader reader;
    Reference reference;
    int reply_code = 0;  // of the reply being read, 0 between replies
    for (const std::string_view line : fuzz::lines_of(fuzz::as_text(data, size))) {
        const bool was_open = reader.inside_multiline();
        FUZZ_CHECK(was_open == (reply_code != 0));
        const auto result = reader.feed(line);
        FUZZ_CHECK(same(result, reference.feed(line)));
        FUZZ_CHECK(reader.inside_multiline() == (reference.open_code != 0));

        if (const auto* error = std::get_if<ftp::ReplyError>(&result)) {
            FUZZ_CHECK(!ftp::describe(*error).empty());
            FUZZ_CHECK(reader.inside_multiline() == was_open);
            continue;
        }
        const auto& reply = std::get<ftp::ReplyLine>(result);
        FUZZ_CHECK(reply.code >= 100 && reply.code <= 599);
        FUZZ_CHECK(reply.first == !was_open);
        FUZZ_CHECK(reader.inside_multiline() == !reply.last);
        FUZZ_CHECK(line.ends_with(reply.text));
        FUZZ_CHECK(ftp::is_preliminary(reply.code) == (reply.code < 200));
        if (reply.first) {
            FUZZ_CHECK(line.starts_with(std::to_string(reply.code)));
        } else {
            FUZZ_CHECK(reply.code == reply_code);
        }
        if (!reply.first && reply.last) {
            FUZZ_CHECK(line.starts_with(std::to_string(reply.code)));
            FUZZ_CHECK(line.size() == 3 || line[3] == ' ');
        }
        if (!reply.first && !reply.last) {
            FUZZ_CHECK(reply.text == line);
            FUZZ_CHECK(ftp::feature_is_carried(reply.text) == reference_carried(reply.text));
        }
        reply_code = reply.last ? 0 : reply.code;
    }
    return 0;
}
