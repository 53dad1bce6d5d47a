#include "ftp/address_codec.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <system_error>

#include "ftp/chars.hpp"

namespace ftp {
namespace {

namespace ip = boost::asio::ip;

constexpr std::size_t kMaxByteDigits = 3;  // "255"
constexpr unsigned kMaxByte = 255;
constexpr std::size_t kMaxPortDigits = 5;  // "65535"
constexpr unsigned kMaxPort = 65535;
constexpr std::size_t kMaxProtocolDigits = 5;
constexpr unsigned kMaxProtocol = 65535;  // RFC 2428 uses IANA address family numbers
constexpr std::size_t kMaxIpv6Text = 45;  // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
constexpr char kFirstDelimiter = '!';     // RFC 2428: delimiters are ASCII 33..126
constexpr char kLastDelimiter = '~';
constexpr int kEprtIpv4 = 1;
constexpr int kEprtIpv6 = 2;

bool is_delimiter(char c) {
    return c >= kFirstDelimiter && c <= kLastDelimiter;
}

// The whole of text as a decimal number of 1..max_digits digits, at most max.
// Leading zeros count as digits and do not mean octal.
std::optional<unsigned> parse_number(std::string_view text, std::size_t max_digits, unsigned max) {
    if (text.empty() || text.size() > max_digits) return std::nullopt;
    unsigned value = 0;
    const char* const end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc{} || stop != end || value > max) return std::nullopt;
    return value;
}

// Exactly N numbers 0..255 separated by single separators, nothing else.
template <std::size_t N>
std::optional<std::array<unsigned char, N>> parse_bytes(std::string_view text, char separator) {
    std::array<unsigned char, N> bytes{};
    for (std::size_t i = 0; i < N; ++i) {
        const bool last = i + 1 == N;
        const std::size_t stop = last ? text.size() : text.find(separator);
        if (stop == std::string_view::npos) return std::nullopt;
        const auto value = parse_number(text.substr(0, stop), kMaxByteDigits, kMaxByte);
        if (!value) return std::nullopt;
        bytes[i] = static_cast<unsigned char>(*value);
        text.remove_prefix(last ? stop : stop + 1);
    }
    return bytes;
}

// h1..h4 and p1,p2 of PORT and 227.
std::optional<Endpoint> endpoint_from_six(const std::array<unsigned char, 6>& b) {
    const auto port = static_cast<std::uint16_t>(b[4] * 256 + b[5]);
    if (port == 0) return std::nullopt;
    return Endpoint(ip::make_address_v4(ip::address_v4::bytes_type{b[0], b[1], b[2], b[3]}), port);
}

// Whether run (digits and commas only) is six groups of 1..3 digits.
bool has_six_number_shape(std::string_view run) {
    std::size_t groups = 1;
    std::size_t digits = 0;
    for (const char c : run) {
        if (c == ',') {
            if (digits == 0) return false;
            ++groups;
            digits = 0;
        } else if (++digits > kMaxByteDigits) {
            return false;
        }
    }
    return groups == 6 && digits > 0;
}

std::optional<ip::address_v6> parse_ipv6(std::string_view text) {
    // A scope ("%eth0") means nothing to the peer; refuse it.
    if (text.empty() || text.size() > kMaxIpv6Text || text.find('%') != std::string_view::npos)
        return std::nullopt;
    std::array<char, kMaxIpv6Text + 1> terminated{};
    text.copy(terminated.data(), text.size());
    boost::system::error_code error;
    const ip::address_v6 address = ip::make_address_v6(terminated.data(), error);
    if (error) return std::nullopt;
    return address;
}

struct EprtFields {
    std::string_view protocol;
    std::string_view address;
    std::string_view port;
};

// "<d>protocol<d>address<d>port<d>": exactly four delimiters, no empty field.
std::optional<EprtFields> split_eprt(std::string_view argument) {
    constexpr std::size_t kShortest = 7;  // "|1|a|1|"
    if (argument.size() < kShortest) return std::nullopt;
    const char d = argument.front();
    if (!is_delimiter(d) || argument.back() != d) return std::nullopt;
    const std::string_view body = argument.substr(1, argument.size() - 2);
    const std::size_t first = body.find(d);
    if (first == std::string_view::npos) return std::nullopt;
    const std::size_t second = body.find(d, first + 1);
    if (second == std::string_view::npos || body.find(d, second + 1) != std::string_view::npos)
        return std::nullopt;
    EprtFields fields{body.substr(0, first), body.substr(first + 1, second - first - 1),
                      body.substr(second + 1)};
    if (fields.protocol.empty() || fields.address.empty() || fields.port.empty())
        return std::nullopt;
    return fields;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    const auto port = parse_number(text, kMaxPortDigits, kMaxPort);
    if (!port || *port == 0) return std::nullopt;
    return static_cast<std::uint16_t>(*port);
}

void append_number(std::string& out, unsigned value) {
    std::array<char, 10> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), result.ptr);
}

// "h1,h2,h3,h4,p1,p2"
void append_six(std::string& out, const Endpoint& endpoint) {
    for (const unsigned char byte : to_ipv4(endpoint.address()).to_bytes()) {
        append_number(out, byte);
        out += ',';
    }
    append_number(out, endpoint.port() >> 8);
    out += ',';
    append_number(out, endpoint.port() & 0xFF);
}

}  // namespace

std::optional<Endpoint> parse_port_argument(std::string_view argument) {
    const auto bytes = parse_bytes<6>(argument, ',');
    if (!bytes) return std::nullopt;
    return endpoint_from_six(*bytes);
}

std::string format_port_argument(const Endpoint& endpoint) {
    std::string out;
    append_six(out, endpoint);
    return out;
}

std::optional<int> eprt_protocol(std::string_view argument) {
    const auto fields = split_eprt(argument);
    if (!fields) return std::nullopt;
    const auto protocol = parse_number(fields->protocol, kMaxProtocolDigits, kMaxProtocol);
    if (!protocol) return std::nullopt;
    return static_cast<int>(*protocol);
}

std::optional<Endpoint> parse_eprt_argument(std::string_view argument) {
    const auto fields = split_eprt(argument);
    if (!fields) return std::nullopt;
    const auto protocol = parse_number(fields->protocol, kMaxProtocolDigits, kMaxProtocol);
    const auto port = parse_port(fields->port);
    if (!protocol || !port) return std::nullopt;
    if (*protocol == kEprtIpv4) {
        const auto bytes = parse_bytes<4>(fields->address, '.');
        if (!bytes) return std::nullopt;
        return Endpoint(ip::make_address_v4(*bytes), *port);
    }
    if (*protocol == kEprtIpv6) {
        const auto address = parse_ipv6(fields->address);
        if (!address) return std::nullopt;
        return Endpoint(*address, *port);
    }
    return std::nullopt;
}

std::string format_eprt_argument(const Endpoint& endpoint) {
    std::string out;
    if (is_ipv4_like(endpoint.address())) {
        out = "|1|";
        out += to_ipv4(endpoint.address()).to_string();
    } else {
        out = "|2|";
        // Without the scope id: it is local to this host.
        out += ip::address_v6(endpoint.address().to_v6().to_bytes()).to_string();
    }
    out += '|';
    append_number(out, endpoint.port());
    out += '|';
    return out;
}

std::optional<Endpoint> parse_227_text(std::string_view text) {
    // Try each maximal run of digits and commas; the first with the shape of
    // six numbers decides. Runs of other shapes ("2024", seven numbers, a
    // four-digit number) are skipped.
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_digit(text[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && (is_digit(text[end]) || text[end] == ',')) ++end;
        const std::string_view run = text.substr(i, end - i);
        if (has_six_number_shape(run)) {
            const auto bytes = parse_bytes<6>(run, ',');
            if (!bytes) return std::nullopt;  // a number above 255
            return endpoint_from_six(*bytes);
        }
        i = end;
    }
    return std::nullopt;
}

std::string format_227_reply(const Endpoint& endpoint) {
    std::string out = "227 Entering Passive Mode (";
    append_six(out, endpoint);
    out += ").";
    return out;
}

std::optional<std::uint16_t> parse_229_text(std::string_view text) {
    // The first "(" d d d port d ")" decides; d is any one delimiter.
    for (std::size_t open = text.find('('); open != std::string_view::npos;
         open = text.find('(', open + 1)) {
        const std::string_view rest = text.substr(open + 1);
        constexpr std::size_t kShortest = 6;  // "|||1|)"
        if (rest.size() < kShortest) break;
        const char d = rest[0];
        if (!is_delimiter(d) || rest[1] != d || rest[2] != d) continue;
        const std::size_t close = rest.find(d, 3);
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ')')
            continue;
        return parse_port(rest.substr(3, close - 3));
    }
    return std::nullopt;
}

std::string format_229_reply(std::uint16_t port) {
    std::string out = "229 Entering Extended Passive Mode (|||";
    append_number(out, port);
    out += "|)";
    return out;
}

bool is_ipv4_like(const ip::address& address) {
    return address.is_v4() || (address.is_v6() && address.to_v6().is_v4_mapped());
}

ip::address_v4 to_ipv4(const ip::address& address) {
    if (address.is_v4()) return address.to_v4();
    // Throws bad_address_cast when the precondition (v4-mapped) is violated.
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
}

}  // namespace ftp
