// Text from a peer or a file, quoted in an error line or a log line: a
// control byte there would split "one line per error" or reach the
// operator's terminal (ESC sequences). Written as \n, \t, \xNN instead.
#pragma once

#include <string>
#include <string_view>

namespace common {

std::string printable(std::string_view text);

}  // namespace common
