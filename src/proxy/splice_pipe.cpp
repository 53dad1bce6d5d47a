#include "proxy/splice_pipe.hpp"

#include <cerrno>

#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>
#endif

namespace proxy {

#ifdef __linux__

namespace {

SpliceResult classify(ssize_t n, int error) {
    if (n > 0) return {SpliceResult::Moved, static_cast<std::size_t>(n), 0};
    if (n == 0) return {SpliceResult::EndOfStream, 0, 0};
    switch (error) {
        case EAGAIN:
            return {SpliceResult::WouldBlock, 0, error};
        case EINVAL:
        case ENOSYS:
        case EOPNOTSUPP:
            return {SpliceResult::Unsupported, 0, error};
        default:
            return {SpliceResult::Failed, 0, error};
    }
}

}  // namespace

SplicePipe SplicePipe::create(std::size_t capacity) {
    SplicePipe pipe;
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return pipe;
    pipe.read_end_.reset(fds[0]);
    pipe.write_end_.reset(fds[1]);
    int size = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(capacity));
    if (size < 0) size = ::fcntl(fds[1], F_GETPIPE_SZ);
    if (size <= 0) {
        // Cannot know the capacity: unusable (errno from fcntl).
        pipe.read_end_.reset();
        pipe.write_end_.reset();
        return pipe;
    }
    pipe.capacity_ = static_cast<std::size_t>(size);
    return pipe;
}

SpliceResult SplicePipe::fill_from(int socket_fd, std::size_t max) {
    std::size_t room = capacity_ > pending_ ? capacity_ - pending_ : 0;
    if (max != 0 && max < room) room = max;
    if (room == 0) return {SpliceResult::WouldBlock, 0, EAGAIN};
    ssize_t n;
    do {
        n = ::splice(socket_fd, nullptr, write_end_.get(), nullptr, room,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    auto result = classify(n, n < 0 ? errno : 0);
    if (result.kind == SpliceResult::Moved) pending_ += result.bytes;
    return result;
}

SpliceResult SplicePipe::drain_to(int socket_fd) {
    if (pending_ == 0) return {SpliceResult::Moved, 0, 0};
    ssize_t n;
    do {
        n = ::splice(read_end_.get(), nullptr, socket_fd, nullptr, pending_,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    // 0 from a pipe holding data would be a kernel oddity: treat it as a
    // failure rather than spinning.
    if (n == 0) return {SpliceResult::Failed, 0, EIO};
    auto result = classify(n, n < 0 ? errno : 0);
    if (result.kind == SpliceResult::Moved) pending_ -= result.bytes;
    return result;
}

#else  // !__linux__

SplicePipe SplicePipe::create(std::size_t) {
    errno = ENOSYS;
    return SplicePipe{};
}
SpliceResult SplicePipe::fill_from(int, std::size_t) {
    return {SpliceResult::Unsupported, 0, ENOSYS};
}
SpliceResult SplicePipe::drain_to(int) {
    return {SpliceResult::Unsupported, 0, ENOSYS};
}

#endif

}  // namespace proxy
