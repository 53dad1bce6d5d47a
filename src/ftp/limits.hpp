// Protocol limits, named once. The proxy enforces them at the edge so that a
// hostile peer cannot make a session grow without bound.
#pragma once

#include <cstddef>

namespace ftp {

// Longest command line accepted from a client, CRLF included. RFC 959 sets no
// limit; OpenBSD's ftp-proxy uses 500. Paths on real servers exceed that, so
// we allow 1024 and answer anything longer with 500 (the session goes on).
inline constexpr std::size_t kMaxCommandLine = 1024;

// Longest reply line accepted from a server, CRLF included. Servers put long
// paths and STAT output on the control connection; 8 KiB covers what real
// servers send while still bounding the buffer.
inline constexpr std::size_t kMaxReplyLine = 8192;
// What a session's reply buffer starts with; it doubles toward kMaxReplyLine
// only for a longer line. Replies are short (a greeting, "200 ..."), and an
// idle session's memory is mostly its buffers (docs/performance.md).
inline constexpr std::size_t kInitialReplyBuffer = 1024;

}  // namespace ftp
