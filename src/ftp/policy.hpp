// The proxy's rules about what may pass, as pure functions so they can be
// unit-tested without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ftp/address_codec.hpp"
#include "ftp/command.hpp"

namespace ftp {

// Ports below this are refused as PORT/EPRT targets (bounce attacks against
// services such as SMTP on port 25).
inline constexpr std::uint16_t kMinActiveDataPort = 1024;

// Why an active-mode target is refused, or nullopt when it is allowed: the
// client may only ask for data connections to itself, on an unprivileged port.
std::optional<std::string_view> check_active_target(const Endpoint& target, const Address& client);

// USER arguments that mean an anonymous login (case-insensitive).
bool is_anonymous_user(std::string_view user);

// The command for the log: PASS arguments are masked, always.
std::string loggable_command(const Command& command);

// Transfers whose data flows from the server to the client.
bool is_download(Verb verb);

// "EPSV 1" / "EPSV 2": the protocol asked for, or nullopt when malformed.
std::optional<int> epsv_protocol(std::string_view argument);

std::string upper(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

}  // namespace ftp
