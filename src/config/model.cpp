#include "config/model.hpp"

namespace config {

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

std::string_view to_string(PfSyntax syntax) {
    return syntax == PfSyntax::openbsd ? "openbsd" : "freebsd";
}

}  // namespace config
