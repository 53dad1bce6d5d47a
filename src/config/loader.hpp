// ftpproxy.yaml -> Config. Nothing is touched before the whole file is valid,
// so the loader reports every problem it finds rather than stopping at the
// first: a list of errors "FILE:LINE:COL: message" in file order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/error.hpp"
#include "config/model.hpp"

namespace config {

struct LoadResult {
    std::optional<Config> config;     // set exactly when errors is empty
    std::vector<ConfigError> errors;  // sorted by line and column
    std::string sha256;               // of the file's bytes, valid or not; empty if unread
};

// Sets `sha256` (here and in the Config) whenever the file could be read.
LoadResult load_config_file(const std::string& path);
// `file_name` is only used in the errors.
LoadResult load_config_text(std::string_view text, const std::string& file_name);

}  // namespace config
