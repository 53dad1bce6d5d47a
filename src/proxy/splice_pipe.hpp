// Zero-copy relay primitives for the data channel: one pipe per relay
// direction and splice(2) socket -> pipe -> socket, so relayed bytes never
// enter user space. Linux only; elsewhere (and when the kernel refuses)
// available() is false and the data channel uses its read/write loop.
//
// These are plain non-blocking system calls: the caller waits for socket
// readiness itself (DataChannel, with Asio's async_wait).
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "common/unique_fd.hpp"

namespace proxy {

// How the data channel relays: --relay and --relay-pipe-size (the defaults
// live with the options).
struct RelayConfig {
    bool splice = false;        // false: the read/write loop only
    std::size_t pipe_size = 0;  // capacity asked for each pipe
};

// Outcome of one non-blocking splice() call.
struct SpliceResult {
    enum Kind {
        Moved,        // bytes > 0 moved
        EndOfStream,  // the socket read side reached EOF (only socket -> pipe)
        WouldBlock,   // EAGAIN: nothing to read / no room to write
        Unsupported,  // EINVAL, ENOSYS, EOPNOTSUPP: this pair cannot splice
        Failed,       // any other error (error holds errno)
    };
    Kind kind;
    std::size_t bytes = 0;
    int error = 0;
};

class SplicePipe {
  public:
    // Makes an O_NONBLOCK|O_CLOEXEC pipe and asks for `capacity` bytes. On
    // failure (EMFILE, ENFILE, non-Linux) the result is not valid() and
    // errno tells why. A refused resize (pipe-user-pages-soft reached, EPERM)
    // is not a failure: the pipe keeps the size the kernel gave it.
    static SplicePipe create(std::size_t capacity);

    bool valid() const { return static_cast<bool>(read_end_); }
    // Bytes the pipe can hold at most (its buffer size).
    std::size_t capacity() const { return capacity_; }
    // Bytes read from a socket into the pipe and not yet written out.
    std::size_t pending() const { return pending_; }

    // socket -> pipe: at most `max` bytes (0: up to the pipe's free room).
    SpliceResult fill_from(int socket_fd, std::size_t max = 0);
    // pipe -> socket: as much of the pending bytes as the socket takes.
    SpliceResult drain_to(int socket_fd);

    // True on Linux: the build has splice(2). Runtime support is probed by the
    // first call (Unsupported).
    static constexpr bool compiled_in() {
#ifdef __linux__
        return true;
#else
        return false;
#endif
    }

  private:
    common::UniqueFd read_end_, write_end_;
    std::size_t capacity_ = 0;
    std::size_t pending_ = 0;
};

}  // namespace proxy
