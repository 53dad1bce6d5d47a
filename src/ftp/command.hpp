// Parsing and classification of client command lines (RFC 959, 2228, 2428,
// 3659). Pure: no I/O. The proxy passes only lines that parse here.
#pragma once

#include <string_view>
#include <variant>

namespace ftp {

// Commands the proxy treats specially; everything else is Other and is
// relayed unchanged once it is well formed.
enum class Verb {
    Other,
    User,
    Pass,
    Acct,
    Port,
    Eprt,
    Pasv,
    Epsv,
    Lprt,
    Lpsv,
    Auth,
    Pbsz,
    Prot,
    Ccc,
    Adat,
    Conf,
    Enc,
    Mic,
    Feat,
    Quit,
    Rein,
    Retr,
    Stor,
    Stou,
    Appe,
    List,
    Nlst,
    Mlsd,
};

struct Command {
    std::string_view verb_text;  // as sent (3 or 4 ASCII letters, any case)
    Verb verb = Verb::Other;
    std::string_view argument;  // after the single separating space; may be empty
};

enum class CommandError {
    Empty,             // nothing but Telnet sequences or nothing at all
    ControlCharacter,  // NUL or another byte < 0x20, or 0x7f, inside the line
    BadVerb,           // the verb is not 3-4 ASCII letters followed by end or one space
};

// Parses one line with its terminator already removed. Leading Telnet
// command sequences (IAC IP, IAC DM, IAC IAC ..., sent by clients before
// ABOR) are skipped. Bytes >= 0x80 are allowed in the argument (UTF-8 paths).
std::variant<Command, CommandError> parse_command(std::string_view line);

// A short English reason, for replies and logs.
std::string_view describe(CommandError error);

// Commands whose completion reply comes after a data transfer.
bool is_transfer(Verb verb);

// Commands of RFC 2228 (security extensions) that the proxy cannot carry.
bool is_security_extension(Verb verb);

}  // namespace ftp
