// ftpproxyctl check: a configuration file through ftpproxyd's own loader,
// its digest, and with --compare whether it is the file another node runs.
#pragma once

#include <optional>
#include <string>

namespace ctl {

struct CheckOutcome {
    std::string text;  // for standard output, one line per finding
    int exit_code;     // kExitOk, or kExitFailed: errors, or not the same file
};

// `compare`: a digest (64 hex digits) as `status` shows it, or a file (a
// peer's copy) whose bytes are hashed; a value that is both is a digest.
CheckOutcome check_file(const std::string& file, const std::optional<std::string>& compare);

// "f.yaml: same as peer.yaml (sha256 ab..)" or "f.yaml: NOT the same as
// peer.yaml: sha256 ab.. here, cd.. there"; `other` names where `theirs`
// comes from ("peer.yaml", "the given digest").
std::string render_comparison(const std::string& file, const std::string& ours,
                              const std::string& other, const std::string& theirs);

}  // namespace ctl
