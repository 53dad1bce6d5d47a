#include "firewall/nft_element_bytes.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "common/net_address.hpp"

namespace firewall::nft {
namespace {

constexpr std::string_view kSeparator = " . ";

void append_field(std::vector<std::uint8_t>& out, std::string_view field, const Element& element) {
    const bool is_port = !field.empty() && std::all_of(field.begin(), field.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
    if (is_port) {
        if (field.size() > 5)
            throw Error("element of " + element.set + ": bad port " + std::string(field));
        const unsigned long port = std::stoul(std::string(field));
        if (port > 65535)
            throw Error("element of " + element.set + ": bad port " + std::string(field));
        // inet_service: 2 bytes big-endian, padded to the 4-byte register.
        out.insert(out.end(), {static_cast<std::uint8_t>(port >> 8),
                               static_cast<std::uint8_t>(port & 0xff), 0, 0});
        return;
    }
    boost::system::error_code error;
    const Address address = boost::asio::ip::make_address(std::string(field), error);
    if (error) throw Error("element of " + element.set + ": bad address " + std::string(field));
    const Address plain = common::canonical(address);
    if (plain.is_v4()) {
        const auto bytes = plain.to_v4().to_bytes();
        out.insert(out.end(), bytes.begin(), bytes.end());
    } else {
        const auto bytes = plain.to_v6().to_bytes();
        out.insert(out.end(), bytes.begin(), bytes.end());
    }
}

std::vector<std::uint8_t> concatenation(std::string_view text, const Element& element) {
    std::vector<std::uint8_t> out;
    while (true) {
        const std::size_t end = text.find(kSeparator);
        append_field(out, text.substr(0, end), element);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + kSeparator.size());
    }
    return out;
}

}  // namespace

ElementBytes element_bytes(const Element& element) {
    ElementBytes bytes{concatenation(element.key, element), {}};
    if (!element.value.empty()) {
        bytes.data = concatenation(element.value, element);
        // A map's single inet_service value is its 2 bytes, unpadded (the
        // map's data length); only fields inside a concatenation are padded.
        if (element.value.find(kSeparator) == std::string::npos && bytes.data.size() == 4 &&
            element.value.find_first_not_of("0123456789") == std::string::npos)
            bytes.data.resize(2);
    }
    return bytes;
}

}  // namespace firewall::nft
