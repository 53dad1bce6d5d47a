#include "golden.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace firewall::test {
namespace {

std::string path_of(const std::string& name) {
    return std::string(FIREWALL_GOLDEN_DIR) + "/" + name;
}

}  // namespace

std::string golden(const std::string& name) {
    std::ifstream file(path_of(name));
    if (!file) return "<cannot read " + path_of(name) + ">";
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

void expect_golden(const std::string& name, const std::string& actual) {
    const char* update = std::getenv("FTPPROXY_UPDATE_GOLDEN");
    if (update && std::string(update) == "1") std::ofstream(path_of(name)) << actual;
    EXPECT_EQ(golden(name), actual) << "golden file " << path_of(name);
}

}  // namespace firewall::test
