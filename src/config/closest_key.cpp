#include "config/closest_key.hpp"

#include <algorithm>
#include <vector>

namespace config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Three rows of the classic table are enough for the transposition step.
    const std::size_t width = b.size() + 1;
    std::vector<std::size_t> before(width), previous(width), current(width);
    for (std::size_t j = 0; j < width; ++j) {
        previous[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j < width; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                current[j] = std::min(current[j], before[j - 2] + 1);
            }
        }
        before.swap(previous);
        previous.swap(current);
    }
    return previous[b.size()];
}

std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known) {
    const std::size_t limit = std::max<std::size_t>(2, unknown.size() / 3);
    std::optional<std::string_view> best;
    std::size_t best_distance = limit + 1;
    for (std::string_view key : known) {
        const std::size_t distance = edit_distance(unknown, key);
        if (distance < best_distance) {
            best = key;
            best_distance = distance;
        }
    }
    return best;
}

}  // namespace config
