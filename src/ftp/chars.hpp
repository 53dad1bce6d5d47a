// Character classes of the protocol's text (ASCII only: the C library's
// isdigit and friends follow the locale and take an int that must not be a
// negative char).
#pragma once

namespace ftp {

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

}  // namespace ftp
