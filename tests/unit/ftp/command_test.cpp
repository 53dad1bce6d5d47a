#include "ftp/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using ftp::CommandError;
using ftp::Verb;
using namespace std::string_view_literals;

ftp::Command parsed(std::string_view line) {
    const auto result = ftp::parse_command(line);
    if (const auto* error = std::get_if<CommandError>(&result)) {
        ADD_FAILURE() << "unexpected error " << ftp::describe(*error) << " for "
                      << testing::PrintToString(std::string(line));
        return {};
    }
    return std::get<ftp::Command>(result);
}

CommandError error_of(std::string_view line) {
    const auto result = ftp::parse_command(line);
    if (!std::holds_alternative<CommandError>(result)) {
        ADD_FAILURE() << "expected an error for " << testing::PrintToString(std::string(line));
        return CommandError::Empty;
    }
    return std::get<CommandError>(result);
}

TEST(Command, VerbAndArgument) {
    const auto command = parsed("RETR /pub/file.txt");
    EXPECT_EQ(command.verb_text, "RETR");
    EXPECT_EQ(command.verb, Verb::Retr);
    EXPECT_EQ(command.argument, "/pub/file.txt");
}

TEST(Command, VerbAlone) {
    const auto command = parsed("PASV");
    EXPECT_EQ(command.verb_text, "PASV");
    EXPECT_EQ(command.verb, Verb::Pasv);
    EXPECT_EQ(command.argument, "");
}

TEST(Command, LowerAndMixedCaseVerbs) {
    const auto lower = parsed("user anonymous");
    EXPECT_EQ(lower.verb_text, "user");
    EXPECT_EQ(lower.verb, Verb::User);
    EXPECT_EQ(lower.argument, "anonymous");
    EXPECT_EQ(parsed("ePrT |1|10.0.0.1|6275|").verb, Verb::Eprt);
    EXPECT_EQ(parsed("ccc").verb, Verb::Ccc);
}

TEST(Command, ThreeLetterVerbs) {
    EXPECT_EQ(parsed("MIC abc").verb, Verb::Mic);
    EXPECT_EQ(parsed("ENC abc").verb, Verb::Enc);
    const auto pwd = parsed("PWD");
    EXPECT_EQ(pwd.verb_text, "PWD");
    EXPECT_EQ(pwd.verb, Verb::Other);
}

TEST(Command, UnknownVerbsAreOther) {
    const auto command = parsed("SITE CHMOD 644 x");
    EXPECT_EQ(command.verb_text, "SITE");
    EXPECT_EQ(command.verb, Verb::Other);
    EXPECT_EQ(command.argument, "CHMOD 644 x");
    EXPECT_EQ(parsed("XMKD d").verb, Verb::Other);
}

TEST(Command, EveryNamedVerb) {
    const std::pair<std::string_view, Verb> table[] = {
        {"USER", Verb::User}, {"PASS", Verb::Pass}, {"ACCT", Verb::Acct}, {"PORT", Verb::Port},
        {"EPRT", Verb::Eprt}, {"PASV", Verb::Pasv}, {"EPSV", Verb::Epsv}, {"LPRT", Verb::Lprt},
        {"LPSV", Verb::Lpsv}, {"AUTH", Verb::Auth}, {"PBSZ", Verb::Pbsz}, {"PROT", Verb::Prot},
        {"CCC", Verb::Ccc},   {"ADAT", Verb::Adat}, {"CONF", Verb::Conf}, {"ENC", Verb::Enc},
        {"MIC", Verb::Mic},   {"FEAT", Verb::Feat}, {"QUIT", Verb::Quit}, {"REIN", Verb::Rein},
        {"RETR", Verb::Retr}, {"STOR", Verb::Stor}, {"STOU", Verb::Stou}, {"APPE", Verb::Appe},
        {"LIST", Verb::List}, {"NLST", Verb::Nlst}, {"MLSD", Verb::Mlsd},
    };
    for (const auto& [text, verb] : table) EXPECT_EQ(parsed(text).verb, verb) << text;
    // Passed on like any other command: nothing in the proxy treats them apart.
    EXPECT_EQ(parsed("ABOR").verb, Verb::Other);
    EXPECT_EQ(parsed("REST 100").verb, Verb::Other);
}

TEST(Command, ArgumentKeepsEverythingAfterOneSpace) {
    EXPECT_EQ(parsed("USER  bob").argument, " bob");
    EXPECT_EQ(parsed("STOR name with spaces  ").argument, "name with spaces  ");
    EXPECT_EQ(parsed("NOOP ").argument, "");
    EXPECT_EQ(parsed("NOOP ").verb_text, "NOOP");
}

TEST(Command, BytesAbove0x7fAllowedInArgument) {
    EXPECT_EQ(parsed("RETR caf\xc3\xa9.txt").argument, "caf\xc3\xa9.txt");
    // IAC IAC inside the argument is left doubled; the server undoes it.
    EXPECT_EQ(parsed("RETR a\xff\xff").argument, "a\xff\xff");
}

TEST(Command, BadVerbs) {
    EXPECT_EQ(error_of("RETRR x"), CommandError::BadVerb);  // five letters
    EXPECT_EQ(error_of("ABCDE"), CommandError::BadVerb);
    EXPECT_EQ(error_of("CD x"), CommandError::BadVerb);  // two letters
    EXPECT_EQ(error_of("X"), CommandError::BadVerb);
    EXPECT_EQ(error_of(" USER a"), CommandError::BadVerb);  // leading space
    EXPECT_EQ(error_of("USER\xff"), CommandError::BadVerb);
    EXPECT_EQ(error_of("US3R a"), CommandError::BadVerb);
    EXPECT_EQ(error_of("USER-a"), CommandError::BadVerb);
    EXPECT_EQ(error_of("caf\xc3\xa9"), CommandError::BadVerb);
    EXPECT_EQ(error_of("    "), CommandError::BadVerb);
}

TEST(Command, ControlCharacters) {
    EXPECT_EQ(error_of("RETR a\0b"sv), CommandError::ControlCharacter);
    EXPECT_EQ(error_of("\0"sv), CommandError::ControlCharacter);
    EXPECT_EQ(error_of("USER a\r"), CommandError::ControlCharacter);
    EXPECT_EQ(error_of("USER\ta"), CommandError::ControlCharacter);
    EXPECT_EQ(error_of("DELE x\x7f"), CommandError::ControlCharacter);
    EXPECT_EQ(error_of("RETRR\x01"), CommandError::ControlCharacter);  // checked before the verb
}

TEST(Command, Empty) {
    EXPECT_EQ(error_of(""), CommandError::Empty);
    EXPECT_EQ(error_of("\xff\xf4"), CommandError::Empty);
    EXPECT_EQ(error_of("\xff\xf4\xff\xf2"), CommandError::Empty);
}

TEST(Command, TelnetInterruptAndSynchBeforeAbor) {
    // IAC IP IAC DM as sent with SO_OOBINLINE on the reading side.
    const auto inline_synch = parsed(
        "\xff\xf4\xff\xf2"
        "ABOR");
    EXPECT_EQ(inline_synch.verb_text, "ABOR");
    // ABOR needs nothing of its own: it is passed on and its replies (426 for
    // the transfer, then 226) complete the commands in order.
    EXPECT_EQ(inline_synch.verb, Verb::Other);
    EXPECT_EQ(inline_synch.argument, "");
    // IAC IP DM: the urgent IAC was taken out of band.
    EXPECT_EQ(parsed("\xff\xf4\xf2"
                     "ABOR")
                  .verb_text,
              "ABOR");
    // IAC IP alone, IAC NOP, IAC IAC, and option negotiation.
    EXPECT_EQ(parsed("\xff\xf4"
                     "ABOR")
                  .verb_text,
              "ABOR");
    EXPECT_EQ(parsed("\xff\xf1"
                     "STAT")
                  .verb_text,
              "STAT");
    EXPECT_EQ(parsed("\xff\xff"
                     "QUIT")
                  .verb,
              Verb::Quit);
    EXPECT_EQ(parsed("\xff\xfb\x01\xff\xfe\x03"
                     "NOOP")
                  .verb_text,
              "NOOP");
}

TEST(Command, TelnetSequencesNotAccepted) {
    EXPECT_EQ(error_of("\xf2"
                       "ABOR"),
              CommandError::BadVerb);  // DM without IAC first
    EXPECT_EQ(error_of("\xff\xf4\xf2\xf2"
                       "ABOR"),
              CommandError::BadVerb);  // second bare DM
    EXPECT_EQ(error_of("\xff\xfa"
                       "ABOR"),
              CommandError::BadVerb);  // subnegotiation
    EXPECT_EQ(error_of("\xff"
                       "ABOR"),
              CommandError::BadVerb);                    // IAC then a letter
    EXPECT_EQ(error_of("\xff"), CommandError::BadVerb);  // IAC cut short
    EXPECT_EQ(error_of("\xff\xf4\x00"
                       "ABOR"sv),
              CommandError::ControlCharacter);
}

TEST(Command, TransferVerbs) {
    for (const Verb verb :
         {Verb::Retr, Verb::Stor, Verb::Stou, Verb::Appe, Verb::List, Verb::Nlst, Verb::Mlsd}) {
        EXPECT_TRUE(ftp::is_transfer(verb));
    }
    for (const Verb verb : {Verb::Other, Verb::Pasv, Verb::Port, Verb::Feat, Verb::Quit}) {
        EXPECT_FALSE(ftp::is_transfer(verb));
    }
}

TEST(Command, SecurityExtensionVerbs) {
    for (const Verb verb : {Verb::Auth, Verb::Pbsz, Verb::Prot, Verb::Ccc, Verb::Adat, Verb::Conf,
                            Verb::Enc, Verb::Mic}) {
        EXPECT_TRUE(ftp::is_security_extension(verb));
    }
    for (const Verb verb : {Verb::Other, Verb::User, Verb::Feat, Verb::Epsv}) {
        EXPECT_FALSE(ftp::is_security_extension(verb));
    }
}

TEST(Command, Describe) {
    EXPECT_EQ(ftp::describe(CommandError::Empty), "empty command");
    EXPECT_EQ(ftp::describe(CommandError::ControlCharacter), "control character in command");
    EXPECT_EQ(ftp::describe(CommandError::BadVerb), "command not understood");
}

}  // namespace
