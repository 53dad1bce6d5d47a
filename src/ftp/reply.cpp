#include "ftp/reply.hpp"

#include <array>
#include <cstddef>

#include "ftp/chars.hpp"

namespace ftp {
namespace {

constexpr std::size_t kCodeLength = 3;

// HT is allowed: servers put tabs in STAT and HELP output.
bool is_control_but_tab(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7F;
}

// The three-digit code at the start of line, or 0 if there is none or it is
// outside 100..599.
int leading_code(std::string_view line) {
    if (line.size() < kCodeLength) return 0;
    if (line[0] < '1' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2])) return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

std::string_view text_after_code(std::string_view line) {
    return line.size() > kCodeLength ? line.substr(kCodeLength + 1) : std::string_view{};
}

char to_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

bool equals_ignore_case(std::string_view a, std::string_view upper) {
    if (a.size() != upper.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_upper(a[i]) != upper[i]) return false;
    }
    return true;
}

}  // namespace

std::variant<ReplyLine, ReplyError> ReplyReader::feed(std::string_view line) {
    for (const char c : line) {
        if (is_control_but_tab(c)) return ReplyError::ControlCharacter;
    }

    if (open_code_ != 0) {
        // Inside a multi-line reply only "ddd " or "ddd" with the opening code
        // ends it; anything else, other codes and "ddd-" included, is text.
        const bool closes = leading_code(line) == open_code_ &&
                            (line.size() == kCodeLength || line[kCodeLength] == ' ');
        if (!closes) return ReplyLine{open_code_, false, false, line};
        const int code = open_code_;
        open_code_ = 0;
        return ReplyLine{code, false, true, text_after_code(line)};
    }

    const int code = leading_code(line);
    if (code == 0) return ReplyError::BadCode;
    if (line.size() == kCodeLength) return ReplyLine{code, true, true, {}};
    if (line[kCodeLength] == ' ') return ReplyLine{code, true, true, text_after_code(line)};
    if (line[kCodeLength] != '-') return ReplyError::BadSeparator;
    open_code_ = code;
    return ReplyLine{code, true, false, text_after_code(line)};
}

std::string_view describe(ReplyError error) {
    switch (error) {
        case ReplyError::BadCode:
            return "reply does not start with a code 100..599";
        case ReplyError::BadSeparator:
            return "reply code not followed by space, dash or end of line";
        case ReplyError::ControlCharacter:
            return "control character in reply";
    }
    return "unknown reply error";
}

bool feature_is_carried(std::string_view feature_line) {
    static constexpr std::array<std::string_view, 8> kNotCarried{
        "AUTH", "PBSZ", "PROT", "CCC", "ADAT", "CONF", "ENC", "MIC",
    };
    const std::size_t start = feature_line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return true;
    feature_line.remove_prefix(start);
    const std::string_view word = feature_line.substr(0, feature_line.find_first_of(" \t"));
    for (const std::string_view name : kNotCarried) {
        if (equals_ignore_case(word, name)) return false;
    }
    return true;
}

}  // namespace ftp
