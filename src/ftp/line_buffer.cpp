#include "ftp/line_buffer.hpp"

#include <cstring>
#include <stdexcept>

namespace ftp {

LineBuffer::LineBuffer(std::size_t capacity, std::size_t initial)
    : capacity_(capacity), allocated_(initial == 0 || initial > capacity ? capacity : initial) {
    // A zero-capacity buffer could never make progress; that is a programming
    // error caught at start-up, not a runtime condition.
    if (capacity == 0) throw std::invalid_argument("LineBuffer capacity must be at least 1");
    data_ = std::make_unique_for_overwrite<char[]>(allocated_);
}

void LineBuffer::grow() {
    const std::size_t size = allocated_ * 2 < capacity_ ? allocated_ * 2 : capacity_;
    auto bigger = std::make_unique_for_overwrite<char[]>(size);
    std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(bigger);
    allocated_ = size;
}

std::span<char> LineBuffer::prepare() {
    if (begin_ > 0) {
        // Move the unconsumed tail (a partial line) to the front. scanned_ is
        // relative to begin_, so it stays valid.
        std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    // Full storage with no line end: the line is longer than the storage so
    // far. Grow toward capacity before anything else.
    if (end_ == allocated_ && allocated_ < capacity_) grow();
    // Full only if the caller skipped next() (it must drain next() until
    // nullopt before reading again). Rather than return no space, drain here:
    // a full buffer always yields a line or an overlong report, so this ends.
    // XXX: lines drained here are lost to the caller.
    while (end_ == capacity_) {
        next();
        std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    return {data_.get() + end_, allocated_ - end_};
}

void LineBuffer::commit(std::size_t n) {
    // Clamp rather than overrun if the caller miscounts.
    end_ += n < allocated_ - end_ ? n : allocated_ - end_;
}

std::optional<LineBuffer::Line> LineBuffer::next() {
    const char* const base = data_.get();

    if (discarding_) {
        // Drop the tail of an overlong line, up to and including its LF.
        const void* lf = std::memchr(base + begin_, '\n', end_ - begin_);
        if (lf == nullptr) {
            begin_ = end_;
            scanned_ = 0;
            return std::nullopt;
        }
        begin_ = static_cast<std::size_t>(static_cast<const char*>(lf) - base) + 1;
        scanned_ = 0;
        discarding_ = false;
    }

    // Only bytes not searched by an earlier call: a line that arrives in many
    // small reads is scanned once in total.
    const std::size_t from = begin_ + scanned_;
    const void* lf = std::memchr(base + from, '\n', end_ - from);
    if (lf != nullptr) {
        const auto at = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
        std::size_t length = at - begin_;
        if (length > 0 && base[at - 1] == '\r') --length;  // CRLF; a lone CR elsewhere stays
        Line line{std::string_view(base + begin_, length), false};
        begin_ = at + 1;
        scanned_ = 0;
        return line;
    }

    scanned_ = end_ - begin_;
    if (scanned_ < capacity_) return std::nullopt;

    // capacity bytes and no LF: the line cannot fit. Report its first bytes
    // once, then discard up to its LF. The view stays valid: nothing moves
    // until prepare().
    Line line{std::string_view(base + begin_, scanned_), true};
    begin_ = end_;
    scanned_ = 0;
    discarding_ = true;
    return line;
}

}  // namespace ftp
