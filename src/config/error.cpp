#include "config/error.hpp"

namespace config {

std::string to_string(const ConfigError& error) {
    return error.file + ':' + std::to_string(error.line) + ':' + std::to_string(error.column) +
           ": " + error.message;
}

}  // namespace config
