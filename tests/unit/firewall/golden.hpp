// Golden files: the expected text lives in golden/NAME, so a reviewer reads
// the exact rules a change produces. FTPPROXY_UPDATE_GOLDEN=1 rewrites them.
#pragma once

#include <string>

namespace firewall::test {

// The golden file's text, or the reason it could not be read.
std::string golden(const std::string& name);

// Compares `actual` with golden/NAME (gtest assertion), rewriting the file
// first when FTPPROXY_UPDATE_GOLDEN=1.
void expect_golden(const std::string& name, const std::string& actual);

}  // namespace firewall::test
