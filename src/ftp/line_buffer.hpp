// A bounded buffer that splits a byte stream into lines.
//
// Why not asio::streambuf + read_until: it grows on demand and reallocates per
// read; a session here owns two of these for its whole life and never
// allocates per line. The storage starts at `initial` bytes and doubles, up
// to `capacity`, only when a single line does not fit: nearly every FTP line
// is short, and an idle session should not hold 8 KiB for the rare long
// reply. A line longer than the capacity is reported once, as overlong, and
// the rest of it (up to the next LF) is discarded.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace ftp {

class LineBuffer {
  public:
    // capacity: the longest line accepted, line terminator included.
    // initial: the storage allocated at first (0 or more than capacity: all
    // of capacity at once).
    explicit LineBuffer(std::size_t capacity, std::size_t initial = 0);

    struct Line {
        // The line without its terminator (CRLF or a bare LF). For an overlong
        // line: its first bytes (at most capacity), terminator not seen yet.
        std::string_view text;
        bool overlong = false;
    };

    // Free space to read into. Compacts already-consumed bytes first. Never
    // empty: if the buffer is full without a line end, next() reports the
    // line as overlong and frees the space.
    std::span<char> prepare();
    // Marks n bytes (n <= prepare().size()) as filled by the last read.
    void commit(std::size_t n);

    // The next complete line, or nullopt when more input is needed. The view
    // is valid until the next call to prepare() or commit().
    std::optional<Line> next();

    // Bytes received but not yet returned as part of a line.
    std::size_t pending() const { return end_ - begin_; }
    // Bytes of storage held now (initial..capacity).
    std::size_t allocated() const { return allocated_; }

  private:
    void grow();

    std::unique_ptr<char[]> data_;
    std::size_t capacity_;
    std::size_t allocated_;
    std::size_t begin_ = 0;    // first unconsumed byte
    std::size_t end_ = 0;      // one past the last filled byte
    std::size_t scanned_ = 0;  // bytes after begin_ already searched for LF
    bool discarding_ = false;  // inside the tail of an overlong line
};

}  // namespace ftp
