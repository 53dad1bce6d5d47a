// What every fuzz target shares: a check that aborts (so libFuzzer keeps the
// input), a deterministic random source seeded from the input, and the split
// of an input into text lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

// Like assert(), but never compiled out: the fuzz build is RelWithDebInfo.
#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

namespace fuzz {

// xorshift64*, seeded from the data so that a crash reproduces.
struct Random {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
    }
};

inline std::uint64_t fnv1a(std::string_view data) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : data) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return hash | 1;  // xorshift state must not be 0
}

// The input as lines: split at LF, one CR before it removed, a last line
// without LF kept. Views into `input`.
inline std::vector<std::string_view> lines_of(std::string_view input) {
    std::vector<std::string_view> lines;
    while (!input.empty()) {
        const std::size_t lf = input.find('\n');
        std::string_view line = input.substr(0, lf);
        input.remove_prefix(lf == std::string_view::npos ? input.size() : lf + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
    }
    return lines;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz
