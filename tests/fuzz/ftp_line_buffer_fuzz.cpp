// libFuzzer target for ftp::LineBuffer: the input is a control-connection
// byte stream, fed in chunk sizes drawn from the data. Invariants: the lines
// equal those of a plain reference splitter whatever the chunking, the
// capacity and the initial storage; no line is longer than the capacity;
// storage only grows, and stays within initial..capacity; less than one
// line's capacity is ever pending. A second pass ignores the "drain next()
// before reading again" rule and must still never crash or stall.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ftp/limits.hpp"
#include "ftp/line_buffer.hpp"
#include "fuzz_support.hpp"

namespace {

struct Line {
    std::string text;
    bool overlong = false;
    bool operator==(const Line&) const = default;
};

// What LineBuffer must produce, written the obvious way.
std::vector<Line> reference_lines(std::string_view input, std::size_t capacity) {
    std::vector<Line> lines;
    for (;;) {
        const std::size_t lf = input.find('\n');
        if (lf == std::string_view::npos) {
            if (input.size() >= capacity)
                lines.push_back({std::string(input.substr(0, capacity)), true});
            return lines;
        }
        std::string_view text = input.substr(0, lf);
        if (lf + 1 > capacity) {
            lines.push_back({std::string(text.substr(0, capacity)), true});
        } else {
            if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
            lines.push_back({std::string(text), false});
        }
        input.remove_prefix(lf + 1);
    }
}

struct Shape {
    std::size_t capacity;
    std::size_t initial;
};

// Small capacities exercise the overlong and growth paths; the real ones
// (with the session's real initial size) what the proxy runs.
Shape shape_of(std::uint8_t selector, std::uint8_t initial) {
    switch (selector >> 6) {
        case 0:
            return {ftp::kMaxCommandLine, 0};
        case 1:
            return {ftp::kMaxReplyLine, ftp::kInitialReplyBuffer};
        default: {
            const std::size_t capacity = 1 + selector % 64;
            return {capacity, initial % (capacity + 2)};  // 0 and > capacity included
        }
    }
}

std::vector<Line> split(std::string_view input, Shape shape, std::uint64_t seed) {
    ftp::LineBuffer buffer(shape.capacity, shape.initial);
    const std::size_t first_allocation = buffer.allocated();
    FUZZ_CHECK(first_allocation >= 1 && first_allocation <= shape.capacity);
    if (shape.initial != 0 && shape.initial <= shape.capacity)
        FUZZ_CHECK(first_allocation == shape.initial);
    fuzz::Random random{seed};
    std::vector<Line> lines;
    std::size_t allocated = first_allocation;
    while (!input.empty()) {
        const std::span<char> space = buffer.prepare();
        FUZZ_CHECK(!space.empty());
        FUZZ_CHECK(buffer.allocated() >= allocated && buffer.allocated() <= shape.capacity);
        allocated = buffer.allocated();
        FUZZ_CHECK(buffer.pending() + space.size() <= allocated);
        std::size_t n = 1 + random.next() % (2 * shape.capacity);
        n = std::min({n, space.size(), input.size()});
        input.copy(space.data(), n);
        buffer.commit(n);
        input.remove_prefix(n);
        while (const auto line = buffer.next()) {
            FUZZ_CHECK(line->text.size() <= shape.capacity);
            FUZZ_CHECK(!line->overlong || line->text.size() == shape.capacity);
            FUZZ_CHECK(line->overlong || line->text.find('\n') == std::string_view::npos);
            lines.push_back({std::string(line->text), line->overlong});
        }
        FUZZ_CHECK(buffer.pending() < shape.capacity);
    }
    return lines;
}

// A careless caller: reads again before draining every line. Lines may be
// lost (documented in prepare()), nothing else may go wrong.
void careless(std::string_view input, Shape shape, std::uint64_t seed) {
    ftp::LineBuffer buffer(shape.capacity, shape.initial);
    fuzz::Random random{seed};
    while (!input.empty()) {
        const std::span<char> space = buffer.prepare();
        FUZZ_CHECK(!space.empty());
        const std::size_t n =
            std::min({1 + random.next() % (2 * shape.capacity), space.size(), input.size()});
        input.copy(space.data(), n);
        buffer.commit(n);
        input.remove_prefix(n);
        FUZZ_CHECK(buffer.pending() <= buffer.allocated());
        if (random.next() % 2 == 0) {
            if (const auto line = buffer.next()) FUZZ_CHECK(line->text.size() <= shape.capacity);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const Shape shape = shape_of(data[0], data[1]);
    const std::string_view input = fuzz::as_text(data + 2, size - 2);
    const std::uint64_t seed = fuzz::fnv1a(input);
    FUZZ_CHECK(split(input, shape, seed) == reference_lines(input, shape.capacity));
    careless(input, shape, seed);
    return 0;
}
