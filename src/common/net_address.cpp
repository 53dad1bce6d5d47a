#include "common/net_address.hpp"

#include <algorithm>

namespace common {

namespace {

constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxPortDigits = 5;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_label(std::string_view label) {
    return !label.empty() && label.size() <= kMaxLabel && is_alnum(label.front()) &&
           is_alnum(label.back()) &&
           std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

}  // namespace

std::optional<IpAddress> parse_ip_address(std::string_view text) {
    if (text.empty() || text.find('%') != std::string_view::npos) {
        return std::nullopt;
    }
    boost::system::error_code error;
    IpAddress address = boost::asio::ip::make_address(std::string(text), error);
    if (error) {
        return std::nullopt;
    }
    return address;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > kMaxPortDigits ||
        !std::all_of(text.begin(), text.end(), is_digit)) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (char c : text) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

std::optional<PortRange> parse_port_range(std::string_view text) {
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    const auto low = parse_port(text.substr(0, dash));
    const auto high = parse_port(text.substr(dash + 1));
    if (!low || !high || *low > *high) {
        return std::nullopt;
    }
    return PortRange{*low, *high};
}

bool is_host_name(std::string_view text) {
    if (text.empty() || text.size() > kMaxHostName) {
        return false;
    }
    std::size_t start = 0;
    while (true) {
        const auto dot = text.find('.', start);
        const auto label = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!is_label(label)) {
            return false;
        }
        if (dot == std::string_view::npos) {
            // RFC 1123 2.1: the last label is never all digits, so "300.1.1.1" is
            // a mistyped address, not a name to look up.
            return !std::all_of(label.begin(), label.end(), is_digit);
        }
        start = dot + 1;
    }
}

std::optional<HostPortText> split_host_port(std::string_view text) {
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        HostPortText parts{text.substr(1, close - 1), std::nullopt};
        const auto rest = text.substr(close + 1);
        if (rest.empty()) {
            return parts;
        }
        if (!rest.starts_with(':')) {
            return std::nullopt;
        }
        parts.port = rest.substr(1);
        return parts;
    }
    const auto colons = std::count(text.begin(), text.end(), ':');
    if (colons == 1) {
        const auto colon = text.find(':');
        return HostPortText{text.substr(0, colon), text.substr(colon + 1)};
    }
    // No colon: a host alone. Several: a bare IPv6 literal, no port.
    return HostPortText{text, std::nullopt};
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
    const bool ipv6 = host.find(':') != std::string_view::npos;
    std::string text;
    if (ipv6) {
        text += '[';
    }
    text += host;
    if (ipv6) {
        text += ']';
    }
    return text + ':' + std::to_string(port);
}

IpAddress canonical(const IpAddress& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    }
    return address;
}

Endpoint canonical(const Endpoint& endpoint) {
    return {canonical(endpoint.address()), endpoint.port()};
}

std::string format_endpoint(const IpAddress& address, std::uint16_t port) {
    return format_host_port(address.to_string(), port);
}

std::string format_endpoint(const Endpoint& endpoint) {
    return format_endpoint(canonical(endpoint.address()), endpoint.port());
}

}  // namespace common
