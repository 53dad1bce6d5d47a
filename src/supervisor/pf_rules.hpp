// pf.conf fragment, to be included from pf.conf: the ftp-proxy anchor and,
// per instance, the rule that sends its public address to its worker, in
// OpenBSD's divert-to form (as in the reference setup) or FreeBSD's rdr form.
#pragma once

#include <string>
#include <vector>

#include "supervisor/config_model.hpp"

namespace supervisor {

struct PfInstanceRules {
    std::vector<std::string> translation;  // FreeBSD: rdr rules, before all filter rules
    std::vector<std::string> filter;       // pass rules
    bool operator==(const PfInstanceRules&) const = default;
};

// The rules of one instance; empty when it has neither a public address nor
// a forward-mode interface (possible only with firewall: none).
PfInstanceRules pf_instance_rules(PfSyntax syntax, const Instance& instance);

std::string render_pf_rules(PfSyntax syntax, const std::vector<Instance>& instances);

}  // namespace supervisor
