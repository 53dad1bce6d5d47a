// Classification of server reply lines, multi-line replies included
// (RFC 959 4.2: "123-first" ... "123 last"). Pure: no I/O.
#pragma once

#include <string_view>
#include <variant>

namespace ftp {

struct ReplyLine {
    int code = 0;           // 100..599; for inner lines of a multi-line reply, the reply's code
    bool first = false;     // opens a reply
    bool last = false;      // completes a reply (a single-line reply is first and last)
    std::string_view text;  // after "ddd " / "ddd-"; the whole line for inner lines
};

enum class ReplyError {
    BadCode,           // a reply must start with three digits, 1xx..5xx
    BadSeparator,      // the code must be followed by ' ', '-' or the end of the line
    ControlCharacter,  // NUL or another control byte inside the line
};

// Tracks whether a multi-line reply is open. Feed it every line the server
// sends, in order.
class ReplyReader {
  public:
    std::variant<ReplyLine, ReplyError> feed(std::string_view line);
    bool inside_multiline() const { return open_code_ != 0; }

  private:
    int open_code_ = 0;
};

std::string_view describe(ReplyError error);

// True for 1xx (preliminary): the command is still in progress.
inline bool is_preliminary(int code) {
    return code >= 100 && code < 200;
}

// FEAT reply filter: false for feature lines the proxy cannot carry
// (AUTH, PBSZ, PROT, CCC, ADAT, CONF, ENC, MIC). The argument is an inner line
// of a FEAT reply such as " AUTH TLS" (leading space included).
bool feature_is_carried(std::string_view feature_line);

}  // namespace ftp
