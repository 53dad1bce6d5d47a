// What a reload changes: the old and the new configuration compared by
// instance name.
#pragma once

#include <string>
#include <vector>

#include "config/model.hpp"

namespace config {

// Names in the new file's order (removed: in the old file's order).
struct ConfigDiff {
    std::vector<std::string> unchanged;
    std::vector<std::string> changed;  // restart the worker / rewrite its rules
    std::vector<std::string> added;
    std::vector<std::string> removed;
    bool operator==(const ConfigDiff&) const = default;
};

// An instance has changed when its worker command line or its pf or nftables
// rules would differ. Comparing what is derived, rather than the fields,
// means a new setting cannot be forgotten here. What ftpproxyd uses but
// does not pass is compared too: the backend list, the health checks, and
// the contents of the TLS files (tls.files_sha256), so that a certificate
// renewed in place under the same name gives the instance a new worker (the
// old one drains its sessions).
ConfigDiff diff_configs(const Config& before, const Config& after);

}  // namespace config
