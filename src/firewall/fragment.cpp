#include "firewall/fragment.hpp"

namespace firewall {

bool has_fragment_rules(const FragmentInstance& instance) {
    return instance.public_address || (instance.forward && !instance.interface.empty());
}

}  // namespace firewall
