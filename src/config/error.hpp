// One problem in a configuration file, located like a compiler error so that
// editors jump to it: "FILE:LINE:COL: message", line and column 1-based.
#pragma once

#include <string>

namespace config {

struct ConfigError {
    std::string file;
    int line = 1;
    int column = 1;
    std::string message;
};

std::string to_string(const ConfigError& error);

}  // namespace config
