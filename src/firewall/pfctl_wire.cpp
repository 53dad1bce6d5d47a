#include "firewall/pfctl_wire.hpp"

#include <cstring>

namespace firewall::wire {
namespace {

// argv of the pf backend has 4 or 5 words; anything longer is not ours.
constexpr std::uint32_t kMaxArguments = 16;

void put_u32(std::string& out, std::uint32_t value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put_string(std::string& out, const std::string& text) {
    put_u32(out, static_cast<std::uint32_t>(text.size()));
    out += text;
}

// A cursor over a received message.
struct Reader {
    std::string_view data;
    std::optional<std::uint32_t> u32() {
        std::uint32_t value = 0;
        if (data.size() < sizeof value) return std::nullopt;
        std::memcpy(&value, data.data(), sizeof value);
        data.remove_prefix(sizeof value);
        return value;
    }
    std::optional<std::string> string() {
        auto length = u32();
        if (!length || data.size() < *length) return std::nullopt;
        std::string text(data.substr(0, *length));
        data.remove_prefix(*length);
        return text;
    }
};

}  // namespace

std::string encode(const Request& request) {
    std::string message;
    put_u32(message, request.id);
    put_u32(message, static_cast<std::uint32_t>(request.argv.size()));
    for (const auto& arg : request.argv) put_string(message, arg);
    put_string(message, request.input);
    return message;
}

std::optional<Request> decode_request(std::string_view message) {
    Reader reader{message};
    Request request;
    auto id = reader.u32();
    auto count = reader.u32();
    if (!id || !count || *count > kMaxArguments) return std::nullopt;
    request.id = *id;
    for (std::uint32_t i = 0; i < *count; ++i) {
        auto arg = reader.string();
        if (!arg) return std::nullopt;
        request.argv.push_back(std::move(*arg));
    }
    auto input = reader.string();
    if (!input || !reader.data.empty()) return std::nullopt;
    request.input = std::move(*input);
    return request;
}

std::string encode(const Reply& reply) {
    std::string message;
    put_u32(message, reply.id);
    put_u32(message, static_cast<std::uint32_t>(reply.result.exit_code));
    message += reply.result.output.substr(0, kMaxMessage - message.size());
    return message;
}

std::optional<Reply> decode_reply(std::string_view message) {
    Reader reader{message};
    auto id = reader.u32();
    auto code = reader.u32();
    if (!id || !code) return std::nullopt;
    Reply reply;
    reply.id = *id;
    reply.result.exit_code = static_cast<int>(static_cast<std::int32_t>(*code));
    reply.result.output = std::string(reader.data);
    return reply;
}

}  // namespace firewall::wire
