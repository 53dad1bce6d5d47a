#include "config/model.hpp"

namespace config {

// The build defines it (src/config/CMakeLists.txt): this one file, so that a
// change of the install prefix recompiles only this file.
const std::string_view kDefaultWorkerBinary = FTPPROXY_DEFAULT_WORKER_BINARY;

std::string_view to_string(Mode mode) {
    return mode == Mode::reverse ? "reverse" : "forward";
}

std::string_view to_string(Firewall firewall) {
    switch (firewall) {
        case Firewall::none:
            return "none";
        case Firewall::nftables:
            return "nftables";
        case Firewall::pf:
            return "pf";
    }
    return "?";
}

std::string_view to_string(Demotion demotion) {
    switch (demotion) {
        case Demotion::none:
            return "none";
        case Demotion::keepalived:
            return "keepalived";
        case Demotion::openbsd_carp:
            return "openbsd-carp";
        case Demotion::freebsd_carp:
            return "freebsd-carp";
        case Demotion::command:
            return "command";
    }
    return "?";
}

std::string_view to_string(PfSyntax syntax) {
    return syntax == PfSyntax::openbsd ? "openbsd" : "freebsd";
}

}  // namespace config
