// A whole file as a string, for tests that check what was written.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace test_support {

inline std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace test_support
