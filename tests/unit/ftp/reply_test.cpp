#include "ftp/reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using ftp::ReplyError;
using namespace std::string_view_literals;

struct Expect {
    int code;
    bool first;
    bool last;
    std::string_view text;
};

void expect_line(ftp::ReplyReader& reader, std::string_view line, Expect want) {
    SCOPED_TRACE(testing::PrintToString(std::string(line)));
    const auto result = reader.feed(line);
    ASSERT_TRUE(std::holds_alternative<ftp::ReplyLine>(result))
        << ftp::describe(std::get<ReplyError>(result));
    const auto& got = std::get<ftp::ReplyLine>(result);
    EXPECT_EQ(got.code, want.code);
    EXPECT_EQ(got.first, want.first);
    EXPECT_EQ(got.last, want.last);
    EXPECT_EQ(got.text, want.text);
}

ReplyError error_of(ftp::ReplyReader& reader, std::string_view line) {
    const auto result = reader.feed(line);
    if (!std::holds_alternative<ReplyError>(result)) {
        ADD_FAILURE() << "expected an error for " << testing::PrintToString(std::string(line));
        return ReplyError::BadCode;
    }
    return std::get<ReplyError>(result);
}

TEST(Reply, SingleLineForms) {
    ftp::ReplyReader reader;
    expect_line(reader, "220 Service ready", {220, true, true, "Service ready"});
    expect_line(reader, "200", {200, true, true, ""});
    expect_line(reader, "226 ", {226, true, true, ""});
    expect_line(reader, "550  two spaces ", {550, true, true, " two spaces "});
    EXPECT_FALSE(reader.inside_multiline());
}

TEST(Reply, VsftpdFeat) {
    ftp::ReplyReader reader;
    expect_line(reader, "211-Features:", {211, true, false, "Features:"});
    EXPECT_TRUE(reader.inside_multiline());
    expect_line(reader, " EPRT", {211, false, false, " EPRT"});
    expect_line(reader, " EPSV", {211, false, false, " EPSV"});
    expect_line(reader, " MDTM", {211, false, false, " MDTM"});
    expect_line(reader, " PASV", {211, false, false, " PASV"});
    expect_line(reader, " REST STREAM", {211, false, false, " REST STREAM"});
    expect_line(reader, " SIZE", {211, false, false, " SIZE"});
    expect_line(reader, " TVFS", {211, false, false, " TVFS"});
    expect_line(reader, "211 End", {211, false, true, "End"});
    EXPECT_FALSE(reader.inside_multiline());
    expect_line(reader, "200 Always in UTF8 mode.", {200, true, true, "Always in UTF8 mode."});
}

TEST(Reply, InnerLinesThatDoNotEndTheReply) {
    ftp::ReplyReader reader;
    expect_line(reader, "220-Welcome", {220, true, false, "Welcome"});
    expect_line(reader, "230 other code with space",
                {220, false, false, "230 other code with space"});
    expect_line(reader, "220-x", {220, false, false, "220-x"});
    expect_line(reader, "220x", {220, false, false, "220x"});
    expect_line(reader, "22", {220, false, false, "22"});
    expect_line(reader, "", {220, false, false, ""});
    expect_line(reader, "no code at all", {220, false, false, "no code at all"});
    expect_line(reader, "\tindented\xc3\xa9", {220, false, false, "\tindented\xc3\xa9"});
    EXPECT_TRUE(reader.inside_multiline());
    expect_line(reader, "220", {220, false, true, ""});
    EXPECT_FALSE(reader.inside_multiline());
}

TEST(Reply, MultilineClosedWithText) {
    ftp::ReplyReader reader;
    expect_line(reader, "214-The following commands are recognized.",
                {214, true, false, "The following commands are recognized."});
    expect_line(reader, " ABOR ACCT ALLO APPE", {214, false, false, " ABOR ACCT ALLO APPE"});
    expect_line(reader, "214 Help OK.", {214, false, true, "Help OK."});
}

TEST(Reply, PreliminaryThenCompletion) {
    ftp::ReplyReader reader;
    expect_line(reader, "150 Here comes the directory listing.",
                {150, true, true, "Here comes the directory listing."});
    expect_line(reader, "226 Directory send OK.", {226, true, true, "Directory send OK."});
    EXPECT_TRUE(ftp::is_preliminary(150));
    EXPECT_FALSE(ftp::is_preliminary(226));
    EXPECT_FALSE(ftp::is_preliminary(99));
}

TEST(Reply, BadCodes) {
    ftp::ReplyReader reader;
    EXPECT_EQ(error_of(reader, ""), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, "22"), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, "099 x"), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, "600 x"), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, "2a0 x"), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, " 220 x"), ReplyError::BadCode);
    EXPECT_EQ(error_of(reader, "hello"), ReplyError::BadCode);
    EXPECT_FALSE(reader.inside_multiline());
}

TEST(Reply, BadSeparators) {
    ftp::ReplyReader reader;
    EXPECT_EQ(error_of(reader, "2200 x"), ReplyError::BadSeparator);
    EXPECT_EQ(error_of(reader, "220_x"), ReplyError::BadSeparator);
    EXPECT_EQ(error_of(reader, "220\xff"), ReplyError::BadSeparator);
    EXPECT_FALSE(reader.inside_multiline());
}

TEST(Reply, ControlCharacters) {
    ftp::ReplyReader reader;
    EXPECT_EQ(error_of(reader, "220 a\0b"sv), ReplyError::ControlCharacter);
    EXPECT_EQ(error_of(reader, "220 a\rb"), ReplyError::ControlCharacter);
    EXPECT_EQ(error_of(reader, "220 \x1b[31m"), ReplyError::ControlCharacter);
    EXPECT_EQ(error_of(reader, "220 \x7f"), ReplyError::ControlCharacter);
    expect_line(reader, "211-x", {211, true, false, "x"});
    EXPECT_EQ(error_of(reader, " inner\0"sv), ReplyError::ControlCharacter);
    EXPECT_TRUE(reader.inside_multiline());  // an error does not change the state
    expect_line(reader, "211 end", {211, false, true, "end"});
}

TEST(Reply, Describe) {
    EXPECT_EQ(ftp::describe(ReplyError::BadCode), "reply does not start with a code 100..599");
    EXPECT_EQ(ftp::describe(ReplyError::BadSeparator),
              "reply code not followed by space, dash or end of line");
    EXPECT_EQ(ftp::describe(ReplyError::ControlCharacter), "control character in reply");
}

TEST(Feature, SecurityFeaturesAreNotCarried) {
    EXPECT_FALSE(ftp::feature_is_carried(" AUTH TLS"));
    EXPECT_FALSE(ftp::feature_is_carried(" AUTH SSL;TLS"));
    EXPECT_FALSE(ftp::feature_is_carried(" auth tls"));
    EXPECT_FALSE(ftp::feature_is_carried(" PBSZ"));
    EXPECT_FALSE(ftp::feature_is_carried(" Prot"));
    EXPECT_FALSE(ftp::feature_is_carried(" CCC"));
    EXPECT_FALSE(ftp::feature_is_carried(" ADAT"));
    EXPECT_FALSE(ftp::feature_is_carried(" CONF"));
    EXPECT_FALSE(ftp::feature_is_carried(" ENC"));
    EXPECT_FALSE(ftp::feature_is_carried(" MIC"));
    EXPECT_FALSE(ftp::feature_is_carried("AUTH TLS"));
}

TEST(Feature, OtherFeaturesAreCarried) {
    EXPECT_TRUE(ftp::feature_is_carried(" EPSV"));
    EXPECT_TRUE(ftp::feature_is_carried(" MLST size*;type*;modify*;"));
    EXPECT_TRUE(ftp::feature_is_carried(" AUTHX"));
    EXPECT_TRUE(ftp::feature_is_carried(" AUT"));
    EXPECT_TRUE(ftp::feature_is_carried(" UTF8 AUTH"));
    EXPECT_TRUE(ftp::feature_is_carried(""));
    EXPECT_TRUE(ftp::feature_is_carried("   "));
}

}  // namespace
