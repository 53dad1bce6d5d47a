#include "ftp/policy.hpp"

#include <algorithm>
#include <cctype>

namespace ftp {

std::optional<std::string_view> check_active_target(const Endpoint& target, const Address& client) {
    if (target.address() != client) return "the data address must be your own";
    if (target.port() < kMinActiveDataPort) return "ports below 1024 are refused";
    return std::nullopt;
}

bool is_anonymous_user(std::string_view user) {
    return iequals(user, "anonymous") || iequals(user, "ftp");
}

std::string loggable_command(const Command& command) {
    std::string line = upper(command.verb_text);
    // PASS always; ACCT is a password too on some servers.
    if (command.verb == Verb::Pass || command.verb == Verb::Acct) return line + " ****";
    if (!command.argument.empty()) {
        line += ' ';
        line += command.argument;
    }
    return line;
}

bool is_download(Verb verb) {
    return verb == Verb::Retr || verb == Verb::List || verb == Verb::Nlst || verb == Verb::Mlsd;
}

std::optional<int> epsv_protocol(std::string_view argument) {
    if (argument == "1") return 1;
    if (argument == "2") return 2;
    return std::nullopt;
}

std::string upper(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return result;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace ftp
