#include "ftp/command.hpp"

#include <array>
#include <cstddef>

namespace ftp {
namespace {

// Telnet (RFC 854) bytes that clients put on the control connection.
constexpr unsigned char kIac = 0xFF;
constexpr unsigned char kDataMark = 0xF2;
constexpr unsigned char kFirstCommand = 0xF0;  // SE
constexpr unsigned char kLastTwoByte = 0xF9;   // GA; SB (0xFA) is not accepted
constexpr unsigned char kFirstOption = 0xFB;   // WILL, WONT, DO, DONT take an option byte
constexpr unsigned char kLastOption = 0xFE;

constexpr std::size_t kMinVerb = 3;
constexpr std::size_t kMaxVerb = 4;

struct VerbName {
    std::string_view name;
    Verb verb;
};

constexpr std::array kVerbs{
    VerbName{"USER", Verb::User}, VerbName{"PASS", Verb::Pass}, VerbName{"ACCT", Verb::Acct},
    VerbName{"PORT", Verb::Port}, VerbName{"EPRT", Verb::Eprt}, VerbName{"PASV", Verb::Pasv},
    VerbName{"EPSV", Verb::Epsv}, VerbName{"LPRT", Verb::Lprt}, VerbName{"LPSV", Verb::Lpsv},
    VerbName{"AUTH", Verb::Auth}, VerbName{"PBSZ", Verb::Pbsz}, VerbName{"PROT", Verb::Prot},
    VerbName{"CCC", Verb::Ccc},   VerbName{"ADAT", Verb::Adat}, VerbName{"CONF", Verb::Conf},
    VerbName{"ENC", Verb::Enc},   VerbName{"MIC", Verb::Mic},   VerbName{"FEAT", Verb::Feat},
    VerbName{"QUIT", Verb::Quit}, VerbName{"REIN", Verb::Rein}, VerbName{"RETR", Verb::Retr},
    VerbName{"STOR", Verb::Stor}, VerbName{"STOU", Verb::Stou}, VerbName{"APPE", Verb::Appe},
    VerbName{"LIST", Verb::List}, VerbName{"NLST", Verb::Nlst}, VerbName{"MLSD", Verb::Mlsd},
};

bool is_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool is_control(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
}

// Length of the Telnet command sequence at the start of line, 0 if none.
// Accepted: IAC IAC, IAC <SE..GA> (IP, DM, NOP, ...), IAC <WILL..DONT> <option>.
// Not accepted: IAC SB ... (subnegotiation), IAC followed by anything else.
std::size_t telnet_sequence_length(std::string_view line) {
    if (line.size() < 2 || static_cast<unsigned char>(line[0]) != kIac) return 0;
    const auto command = static_cast<unsigned char>(line[1]);
    if (command == kIac || (command >= kFirstCommand && command <= kLastTwoByte)) return 2;
    if (command >= kFirstOption && command <= kLastOption && line.size() >= 3) return 3;
    return 0;
}

// Skips leading Telnet sequences. After each one, a single bare DM (0xF2) is
// skipped too: BSD clients send "IAC IP IAC DM" with the second IAC as urgent
// data, and a reader without SO_OOBINLINE never sees that IAC.
std::string_view skip_telnet(std::string_view line) {
    while (const std::size_t n = telnet_sequence_length(line)) {
        line.remove_prefix(n);
        if (!line.empty() && static_cast<unsigned char>(line[0]) == kDataMark)
            line.remove_prefix(1);
    }
    return line;
}

Verb lookup(std::string_view text) {
    std::array<char, kMaxVerb> upper{};
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    const std::string_view key(upper.data(), text.size());
    for (const auto& entry : kVerbs) {
        if (entry.name == key) return entry.verb;
    }
    return Verb::Other;
}

}  // namespace

// IAC IAC inside the argument is not undone: the argument is a view into the
// line, and the proxy relays it unchanged, so the server undoes the doubling.
// Telnet commands after the verb are likewise left in the argument.
std::variant<Command, CommandError> parse_command(std::string_view line) {
    line = skip_telnet(line);
    if (line.empty()) return CommandError::Empty;
    for (const char c : line) {
        if (is_control(c)) return CommandError::ControlCharacter;
    }

    std::size_t letters = 0;
    while (letters < line.size() && letters <= kMaxVerb && is_letter(line[letters])) ++letters;
    if (letters < kMinVerb || letters > kMaxVerb) return CommandError::BadVerb;

    Command command;
    command.verb_text = line.substr(0, letters);
    command.verb = lookup(command.verb_text);
    if (letters == line.size()) return command;
    if (line[letters] != ' ') return CommandError::BadVerb;
    command.argument = line.substr(letters + 1);
    return command;
}

std::string_view describe(CommandError error) {
    switch (error) {
        case CommandError::Empty:
            return "empty command";
        case CommandError::ControlCharacter:
            return "control character in command";
        case CommandError::BadVerb:
            return "command not understood";
    }
    return "unknown command error";
}

bool is_transfer(Verb verb) {
    switch (verb) {
        case Verb::Retr:
        case Verb::Stor:
        case Verb::Stou:
        case Verb::Appe:
        case Verb::List:
        case Verb::Nlst:
        case Verb::Mlsd:
            return true;
        default:
            return false;
    }
}

bool is_security_extension(Verb verb) {
    switch (verb) {
        case Verb::Auth:
        case Verb::Pbsz:
        case Verb::Prot:
        case Verb::Ccc:
        case Verb::Adat:
        case Verb::Conf:
        case Verb::Enc:
        case Verb::Mic:
            return true;
        default:
            return false;
    }
}

}  // namespace ftp
