// pf rule text for one session's anchor, as `pfctl -a ANCHOR -f -` reads it:
// pure functions, tested against golden files (tests/unit/firewall/golden/).
// The shapes follow OpenBSD ftp-proxy's filter.c: `pass … flags S/SA keep
// state (max 1)`, quick; with -T the rules become non-quick `match … tag T`
// so that the user's later rules decide; -q adds `queue`, -v `log`, -vv
// `log (all)`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/firewall.hpp"

namespace firewall::pf {

// The anchor below which every session's anchor is made, the reference's:
// the pf helper lets pfctl touch it and its session anchors only, and
// ftpproxyd's pf.conf fragment hooks "ftp-proxy/*" into the ruleset.
inline constexpr std::string_view kAnchorParent = "ftp-proxy";

// "ftp-proxy/<pid>.<session>", the reference's anchor name: pfctl -a
// 'ftp-proxy/*' -sr shows every session's rules.
std::string anchor_name(pid_t pid, std::uint64_t session);

// The session anchors named in `pfctl -a ftp-proxy -sA` output.
struct AnchorOwner {
    std::string anchor;
    pid_t pid = 0;
};
std::vector<AnchorOwner> session_anchors(const std::string& listing);

// Passive: the client's connection to SERVER:port is redirected (rdr-to)
// to the proxy's listener. Throws Error for mixed families.
std::string passive_rules(const PassiveExpectation& expectation, const RuleOptions& options);

// Active: the server's connection to the proxy's own address:port is
// passed in; with `onward`, the proxy's connection to the client passes out.
std::string active_rules(const ActiveExpectation& expectation, const RuleOptions& options);

// The `pass out` rule of an onward leg alone (`nat-to` with leg.nat_to):
// what stays in the anchor once the expected connection has arrived.
std::string onward_rule(const OnwardLeg& leg, const RuleOptions& options);

}  // namespace firewall::pf
