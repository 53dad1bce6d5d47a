// Boost.Asio names used throughout the supervisor (see common/asio.hpp).
#pragma once

#include "common/asio.hpp"

namespace supervisor {
namespace asio = boost::asio;
using common::awaitable;
using common::error_code;
using common::use_awaitable;
using common::with_error;
}  // namespace supervisor
