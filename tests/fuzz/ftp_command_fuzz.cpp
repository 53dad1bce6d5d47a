// libFuzzer target for ftp::parse_command: the input is what a client sends,
// one command per line. Invariants per line:
// - a command's verb is 3-4 ASCII letters, its argument has no control byte,
//   and verb + ' ' + argument is the line after its Telnet prefix;
// - the verb is classified as the (independent) table below says, in any
//   case, and is_transfer / is_security_extension agree with it;
// - for lines without a Telnet prefix the result, errors included, equals a
//   reference parser written the obvious way;
// - a Telnet "IAC IP IAC DM" prefix (what clients send before ABOR) and the
//   re-parse of the canonical form change nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ftp/command.hpp"
#include "fuzz_support.hpp"

namespace {

using ftp::Verb;

struct Known {
    std::string_view name;
    Verb verb;
    bool transfer;
    bool security;
};

constexpr std::array<Known, 27> kKnown{{
    {"USER", Verb::User, false, false}, {"PASS", Verb::Pass, false, false},
    {"ACCT", Verb::Acct, false, false}, {"PORT", Verb::Port, false, false},
    {"EPRT", Verb::Eprt, false, false}, {"PASV", Verb::Pasv, false, false},
    {"EPSV", Verb::Epsv, false, false}, {"LPRT", Verb::Lprt, false, false},
    {"LPSV", Verb::Lpsv, false, false}, {"AUTH", Verb::Auth, false, true},
    {"PBSZ", Verb::Pbsz, false, true},  {"PROT", Verb::Prot, false, true},
    {"CCC", Verb::Ccc, false, true},    {"ADAT", Verb::Adat, false, true},
    {"CONF", Verb::Conf, false, true},  {"ENC", Verb::Enc, false, true},
    {"MIC", Verb::Mic, false, true},    {"FEAT", Verb::Feat, false, false},
    {"QUIT", Verb::Quit, false, false}, {"REIN", Verb::Rein, false, false},
    {"RETR", Verb::Retr, true, false},  {"STOR", Verb::Stor, true, false},
    {"STOU", Verb::Stou, true, false},  {"APPE", Verb::Appe, true, false},
    {"LIST", Verb::List, true, false},  {"NLST", Verb::Nlst, true, false},
    {"MLSD", Verb::Mlsd, true, false},
}};

bool is_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

const Known* find_known(std::string_view verb_text) {
    const std::string name = upper(verb_text);
    for (const Known& known : kKnown) {
        if (known.name == name) return &known;
    }
    return nullptr;
}

// The expected result for a line that does not start with IAC (0xff).
std::variant<ftp::Command, ftp::CommandError> reference_parse(std::string_view line) {
    if (line.empty()) return ftp::CommandError::Empty;
    for (const char c : line) {
        if (is_control(c)) return ftp::CommandError::ControlCharacter;
    }
    std::size_t letters = 0;
    while (letters < line.size() && is_letter(line[letters])) ++letters;
    if (letters < 3 || letters > 4) return ftp::CommandError::BadVerb;
    if (letters < line.size() && line[letters] != ' ') return ftp::CommandError::BadVerb;
    ftp::Command command;
    command.verb_text = line.substr(0, letters);
    const Known* known = find_known(command.verb_text);
    command.verb = known ? known->verb : Verb::Other;
    if (letters < line.size()) command.argument = line.substr(letters + 1);
    return command;
}

bool same(const std::variant<ftp::Command, ftp::CommandError>& a,
          const std::variant<ftp::Command, ftp::CommandError>& b) {
    if (a.index() != b.index()) return false;
    if (const auto* error = std::get_if<ftp::CommandError>(&a))
        return *error == std::get<ftp::CommandError>(b);
    const auto& x = std::get<ftp::Command>(a);
    const auto& y = std::get<ftp::Command>(b);
    return x.verb_text == y.verb_text && x.verb == y.verb && x.argument == y.argument;
}

void check_command(std::string_view line, const ftp::Command& command) {
    FUZZ_CHECK(command.verb_text.size() >= 3 && command.verb_text.size() <= 4);
    for (const char c : command.verb_text) FUZZ_CHECK(is_letter(c));
    for (const char c : command.argument) FUZZ_CHECK(!is_control(c));

    // Views into the line: what precedes the verb is the Telnet prefix.
    FUZZ_CHECK(command.verb_text.data() >= line.data() &&
               command.verb_text.data() + command.verb_text.size() <= line.data() + line.size());
    const auto offset = static_cast<std::size_t>(command.verb_text.data() - line.data());
    const std::string_view rest = line.substr(offset);
    FUZZ_CHECK(offset == 0 || static_cast<unsigned char>(line[0]) == 0xff);
    if (rest.size() == command.verb_text.size()) {
        FUZZ_CHECK(command.argument.empty());
    } else {
        FUZZ_CHECK(rest[command.verb_text.size()] == ' ');
        FUZZ_CHECK(rest.substr(command.verb_text.size() + 1) == command.argument);
    }

    const Known* known = find_known(command.verb_text);
    FUZZ_CHECK(command.verb == (known ? known->verb : Verb::Other));
    FUZZ_CHECK(ftp::is_transfer(command.verb) == (known && known->transfer));
    FUZZ_CHECK(ftp::is_security_extension(command.verb) == (known && known->security));

    // The canonical form, without the prefix, parses to the same command.
    std::string canonical(command.verb_text);
    if (!command.argument.empty()) canonical += ' ' + std::string(command.argument);
    const auto again = ftp::parse_command(canonical);
    const auto* reparsed = std::get_if<ftp::Command>(&again);
    FUZZ_CHECK(reparsed && reparsed->verb == command.verb &&
               reparsed->verb_text == command.verb_text && reparsed->argument == command.argument);
}

void check_line(std::string_view line) {
    const auto result = ftp::parse_command(line);
    if (const auto* error = std::get_if<ftp::CommandError>(&result)) {
        FUZZ_CHECK(!ftp::describe(*error).empty());
        if (*error == ftp::CommandError::ControlCharacter) {
            bool any = false;
            for (const char c : line) any = any || is_control(c);
            FUZZ_CHECK(any);
        }
    } else {
        check_command(line, std::get<ftp::Command>(result));
    }
    if (line.empty() || static_cast<unsigned char>(line[0]) != 0xff)
        FUZZ_CHECK(same(result, reference_parse(line)));
    if (line.empty() || static_cast<unsigned char>(line[0]) != 0xf2) {
        const std::string prefixed = "\xff\xf4\xff\xf2" + std::string(line);
        FUZZ_CHECK(same(ftp::parse_command(prefixed), result));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (const std::string_view line : fuzz::lines_of(fuzz::as_text(data, size))) check_line(line);
    return 0;
}
