// The messages between a worker and its privileged pfctl helper, one per
// SOCK_SEQPACKET message: a request (id, argv, stdin) and its reply (id,
// exit code, output). Every read is bounds-checked: neither side trusts the
// other's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/process.hpp"

namespace firewall::wire {

// Rules for one session are a few hundred bytes; this bounds what a confused
// peer can make either side hold.
inline constexpr std::size_t kMaxMessage = 256 * 1024;

struct Request {
    std::uint32_t id = 0;
    std::vector<std::string> argv;
    std::string input;
};

struct Reply {
    std::uint32_t id = 0;
    ProgramResult result;
};

std::string encode(const Request& request);
std::optional<Request> decode_request(std::string_view message);
// The output is cut to what fits one message.
std::string encode(const Reply& reply);
std::optional<Reply> decode_reply(std::string_view message);

}  // namespace firewall::wire
