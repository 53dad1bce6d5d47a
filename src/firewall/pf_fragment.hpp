// The supervisor's pf.conf fragment, to be included from pf.conf: the
// ftp-proxy anchor and, per instance, the rule that sends its public address
// to its worker, in OpenBSD's divert-to form (as in the reference setup) or
// FreeBSD's rdr form. (The worker's per-session rules are pf_rules.hpp.)
#pragma once

#include <string>
#include <vector>

#include "firewall/fragment.hpp"

namespace firewall {

enum class PfSyntax { openbsd, freebsd };

struct PfInstanceRules {
    std::vector<std::string> translation;  // FreeBSD: rdr rules, before all filter rules
    std::vector<std::string> filter;       // pass rules
    bool operator==(const PfInstanceRules&) const = default;
};

// The rules of one instance; empty when it has neither a public address nor
// a forward-mode interface (possible only with firewall: none).
PfInstanceRules pf_instance_rules(PfSyntax syntax, const FragmentInstance& instance);

std::string render_pf_fragment(PfSyntax syntax, const std::vector<FragmentInstance>& instances);

}  // namespace firewall
