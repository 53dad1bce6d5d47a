// Boost.Asio names used throughout the worker (see common/asio.hpp).
#pragma once

#include "common/asio.hpp"

namespace proxy {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using common::awaitable;
using common::error_code;
using common::use_awaitable;
using common::with_error;
}  // namespace proxy
