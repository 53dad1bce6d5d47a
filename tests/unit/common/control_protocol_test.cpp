// The control socket's request check: every field, every wrong type, in
// words a person can act on; a message as its line.
#include "common/control_protocol.hpp"

#include <gtest/gtest.h>

namespace {

using common::control::request_error;
using nlohmann::json;

std::string error_of(const char* text) {
    return request_error(json::parse(text)).value_or("(accepted)");
}

TEST(ControlRequest, AcceptsWhatFtpproxyctlSends) {
    for (const char* text :
         {R"({"command":"status"})", R"({"command":"status","names":[]})",
          R"({"command":"stop","names":["ftp01","all"]})", R"({"command":"rules","syntax":"pf"})",
          R"({"command":"reload"})", R"({"command":"frobnicate"})"}) {
        EXPECT_EQ(error_of(text), "(accepted)") << text;
    }
}

TEST(ControlRequest, Command) {
    EXPECT_EQ(error_of(R"({})"),
              "\"command\" is missing: one of status, start, stop, restart, drain, reload, rules, "
              "info, carp-event, failover, failback, sessions or kill");
    EXPECT_EQ(error_of(R"({"command":5})"),
              "\"command\" must be a string (status, start, stop, restart, drain, reload, rules, "
              "info, carp-event, failover, failback, sessions or kill), not a number");
    EXPECT_EQ(error_of(R"({"command":["status"]})"),
              "\"command\" must be a string (status, start, stop, restart, drain, reload, rules, "
              "info, carp-event, failover, failback, sessions or kill), not an array");
    EXPECT_EQ(error_of(R"({"command":null})"),
              "\"command\" must be a string (status, start, stop, restart, drain, reload, rules, "
              "info, carp-event, failover, failback, sessions or kill), not null");
}

TEST(ControlRequest, Names) {
    EXPECT_EQ(error_of(R"({"command":"stop","names":"ftp01"})"),
              "\"names\" must be a list of strings (instance names or \"all\"), not a string");
    EXPECT_EQ(error_of(R"({"command":"status","names":{"ftp01":1}})"),
              "\"names\" must be a list of strings (instance names or \"all\"), not an object");
    EXPECT_EQ(error_of(R"({"command":"stop","names":["ftp01",7]})"),
              "\"names\" must be a list of strings: item 2 is a number");
    EXPECT_EQ(error_of(R"({"command":"stop","names":[true]})"),
              "\"names\" must be a list of strings: item 1 is a boolean");
}

TEST(ControlRequest, Syntax) {
    EXPECT_EQ(error_of(R"({"command":"rules","syntax":1})"),
              "\"syntax\" must be a string (\"pf\" or \"nft\"), not a number");
}

TEST(ControlRequest, ClusterFields) {
    EXPECT_EQ(error_of(R"({"command":"carp-event","role":"master","subject":"198.18.0.1"})"),
              "(accepted)");
    EXPECT_EQ(error_of(R"({"command":"failover","wait":10})"), "(accepted)");
    EXPECT_EQ(error_of(R"({"command":"carp-event","role":1})"),
              "\"role\" must be a string (\"master\", \"backup\" or \"fault\"), not a number");
    EXPECT_EQ(error_of(R"({"command":"carp-event","role":"master","subject":[]})"),
              "\"subject\" must be a string (a VIP or an instance name), not an array");
    EXPECT_EQ(error_of(R"({"command":"failover","wait":0})"),
              "\"wait\" must be a number of seconds, 1..300");
    EXPECT_EQ(error_of(R"({"command":"failover","wait":"10"})"),
              "\"wait\" must be a number of seconds, 1..300");
}

TEST(ControlRequest, UnknownFields) {
    EXPECT_EQ(error_of(R"({"command":"status","nmaes":["ftp01"]})"),
              "unknown field \"nmaes\" (a request has \"command\", and \"names\", \"syntax\", "
              "\"role\", \"subject\", \"wait\" or \"session\")");
}

// Found by tests/fuzz/control_request: a field name with a control byte
// (JSON "\r") was quoted raw, splitting the one-line error.
TEST(ControlRequest, UnknownFieldIsQuotedPrintably) {
    EXPECT_EQ(error_of(R"({"command":"status","\rel\u001b":1})"),
              "unknown field \"\\x0del\\x1b\" (a request has \"command\", and \"names\", "
              "\"syntax\", \"role\", \"subject\", \"wait\" or \"session\")");
}

// Both ends write a message with encode_line(): ftpproxyctl used its own
// strict dump(), and a name that is not UTF-8 (`ftpproxyctl restart $'\xff'`)
// aborted it with the JSON library's exception.
TEST(ControlLine, EncodesOneLineAndReplacesWhatIsNotUtf8) {
    using common::control::encode_line;
    EXPECT_EQ(encode_line(json{{"command", "status"}}), "{\"command\":\"status\"}\n");
    EXPECT_EQ(encode_line(common::control::make_request("restart", {"\xff"})),
              "{\"command\":\"restart\",\"names\":[\"\xef\xbf\xbd\"]}\n");
    EXPECT_EQ(encode_line(json{{"text", "a\nb"}}), "{\"text\":\"a\\nb\"}\n");
}

TEST(ControlLine, DecodesOnlyAnObject) {
    using common::control::decode_line;
    EXPECT_EQ(decode_line(R"({"ok":true})"), (json{{"ok", true}}));
    for (const char* line : {"", "[1]", "\"ok\"", "{\"ok\":", "42", "null"}) {
        EXPECT_EQ(decode_line(line), std::nullopt) << line;
    }
}

}  // namespace
