// libFuzzer target for src/ftp/address_codec: PORT and EPRT arguments, 227
// and 229 reply texts. The input is lines, each tried with every parser; its
// first 18 bytes are also taken as a raw IPv6/IPv4 address and a port.
// Invariants:
// - whatever parses has a non-zero port, PORT/227 give IPv4, EPRT's
//   protocol field says 1 for IPv4 and 2 for IPv6;
// - strictness: an accepted PORT is six comma-separated numbers and nothing
//   else, an accepted EPRT has exactly four equal delimiters;
// - round trips: every endpoint survives format -> parse in every form it
//   can be written in (IPv4-like: PORT, EPRT, 227; any: EPRT), formatting is
//   canonical (format(parse(format(e))) == format(e)), and an EPRT or 229
//   written with any other delimiter that cannot be confused with its
//   fields parses the same.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ftp/address_codec.hpp"
#include "fuzz_support.hpp"

namespace {

namespace ip = boost::asio::ip;

bool same_endpoint(const ftp::Endpoint& a, const ftp::Endpoint& b) {
    if (a.port() != b.port()) return false;
    if (ftp::is_ipv4_like(a.address()) && ftp::is_ipv4_like(b.address()))
        return ftp::to_ipv4(a.address()) == ftp::to_ipv4(b.address());
    return a.address() == b.address();
}

std::string with_delimiter(std::string text, char delimiter) {
    std::replace(text.begin(), text.end(), '|', delimiter);
    return text;
}

// Any IPv4-like endpoint must survive all formats; any other, EPRT.
void check_formats(const ftp::Endpoint& endpoint, char delimiter) {
    const std::string eprt_text = ftp::format_eprt_argument(endpoint);
    const auto eprt = ftp::parse_eprt_argument(eprt_text);
    FUZZ_CHECK(eprt && same_endpoint(*eprt, endpoint));
    FUZZ_CHECK(ftp::format_eprt_argument(*eprt) == eprt_text);
    FUZZ_CHECK(ftp::eprt_protocol(eprt_text) == (ftp::is_ipv4_like(endpoint.address()) ? 1 : 2));
    if (std::count(eprt_text.begin(), eprt_text.end(), delimiter) == 0) {
        const auto other = ftp::parse_eprt_argument(with_delimiter(eprt_text, delimiter));
        FUZZ_CHECK(other && same_endpoint(*other, endpoint));
    }

    const std::string reply_229 = ftp::format_229_reply(endpoint.port());
    FUZZ_CHECK(ftp::parse_229_text(std::string_view(reply_229).substr(4)) == endpoint.port());
    const std::string port_text = std::to_string(endpoint.port());
    if (delimiter != '(' && delimiter != ')' && port_text.find(delimiter) == std::string::npos) {
        const std::string text =
            std::string("(") + delimiter + delimiter + delimiter + port_text + delimiter + ")";
        FUZZ_CHECK(ftp::parse_229_text(text) == endpoint.port());
    }

    if (!ftp::is_ipv4_like(endpoint.address())) return;
    FUZZ_CHECK(eprt->address().is_v4());
    const std::string port_argument = ftp::format_port_argument(endpoint);
    const auto port = ftp::parse_port_argument(port_argument);
    FUZZ_CHECK(port && same_endpoint(*port, endpoint));
    FUZZ_CHECK(ftp::format_port_argument(*port) == port_argument);
    const std::string reply_227 = ftp::format_227_reply(endpoint);
    FUZZ_CHECK(reply_227.starts_with("227 "));
    const auto passive = ftp::parse_227_text(std::string_view(reply_227).substr(4));
    FUZZ_CHECK(passive && same_endpoint(*passive, endpoint));
    FUZZ_CHECK(ftp::format_227_reply(*passive) == reply_227);
}

void check_line(std::string_view text, char delimiter) {
    if (const auto endpoint = ftp::parse_port_argument(text)) {
        FUZZ_CHECK(endpoint->address().is_v4() && endpoint->port() != 0);
        FUZZ_CHECK(std::count(text.begin(), text.end(), ',') == 5);
        FUZZ_CHECK(text.find_first_not_of("0123456789,") == std::string_view::npos);
        FUZZ_CHECK(ftp::format_port_argument(*endpoint).size() <= text.size());
        check_formats(*endpoint, delimiter);
    }
    const auto protocol = ftp::eprt_protocol(text);
    if (const auto endpoint = ftp::parse_eprt_argument(text)) {
        FUZZ_CHECK(endpoint->port() != 0);
        FUZZ_CHECK(protocol == (endpoint->address().is_v4() ? 1 : 2));
        FUZZ_CHECK(std::count(text.begin(), text.end(), text.front()) == 4);
        FUZZ_CHECK(text.back() == text.front());
        // A scope id means nothing to the peer.
        FUZZ_CHECK(endpoint->address().is_v4() || endpoint->address().to_v6().scope_id() == 0);
        check_formats(*endpoint, delimiter);
    } else if (protocol) {
        FUZZ_CHECK(*protocol >= 0 && *protocol <= 65535);
    }
    if (const auto endpoint = ftp::parse_227_text(text)) {
        FUZZ_CHECK(endpoint->address().is_v4() && endpoint->port() != 0);
        check_formats(*endpoint, delimiter);
    }
    if (const auto port = ftp::parse_229_text(text)) {
        FUZZ_CHECK(*port != 0);
        FUZZ_CHECK(text.find('(') != std::string_view::npos &&
                   text.find(')') != std::string_view::npos);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = fuzz::as_text(data, size);
    // Any printable delimiter other than the default; from the data.
    const char delimiter = static_cast<char>('!' + fuzz::fnv1a(input) % ('~' - '!' + 1));
    for (const std::string_view line : fuzz::lines_of(input)) check_line(line, delimiter);

    // Raw bytes as endpoints: every address must format and parse back.
    if (size >= 18) {
        ip::address_v6::bytes_type bytes{};
        std::copy_n(data, bytes.size(), bytes.begin());
        const auto port = static_cast<std::uint16_t>(data[16] << 8 | data[17]);
        if (port != 0) {
            check_formats(ftp::Endpoint(ip::make_address_v6(bytes), port), delimiter);
            check_formats(ftp::Endpoint(ip::make_address_v4(ip::address_v4::bytes_type{
                                            data[0], data[1], data[2], data[3]}),
                                        port),
                          delimiter);
            check_formats(
                ftp::Endpoint(ip::make_address_v6(ip::v4_mapped,
                                                  ip::make_address_v4(ip::address_v4::bytes_type{
                                                      data[0], data[1], data[2], data[3]})),
                              port),
                delimiter);
        }
    }
    return 0;
}
