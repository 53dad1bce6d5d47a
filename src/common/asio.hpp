// The one place that includes Boost.Asio. g++ 12 with Boost 1.74 needs
// <utility> before <boost/asio.hpp> or `awaitable` fails to compile, and
// clang-format must not reorder them.
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/redirect_error.hpp>
// clang-format on

namespace common {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;

// Completion token that stores the error instead of throwing: the hot path
// handles errors as values.
inline auto with_error(error_code& error) { return asio::redirect_error(use_awaitable, error); }
}  // namespace common
