// "Did you mean ...?" for unknown configuration keys.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace config {

// Edit distance where swapping two neighbouring letters counts as one edit
// (optimal string alignment), because "lsiten" for "listen" is the typical typo.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The known key nearest to `unknown`, if it is near enough to be the likely
// intent: at most 2 edits, or a third of the key's length for long keys.
std::optional<std::string_view> closest_key(std::string_view unknown,
                                            std::span<const std::string_view> known);

}  // namespace config
