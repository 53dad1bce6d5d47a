#include "ctl/check.hpp"

#include <algorithm>
#include <cctype>

#include "config/file_digest.hpp"
#include "config/loader.hpp"
#include "ctl/exit_codes.hpp"

namespace ctl {

namespace {

// What --compare names: where the other digest comes from, and the digest
// (empty with `problem` set when it cannot be had).
struct Other {
    std::string name;
    std::string digest;
    std::string problem;
};

Other resolve_other(const std::string& value) {
    if (config::is_sha256_hex(value)) {
        std::string digest = value;
        std::transform(digest.begin(), digest.end(), digest.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return {"the given digest", digest, {}};
    }
    const config::LoadResult peer = config::load_config_file(value);
    if (!peer.sha256.empty()) return {value, peer.sha256, {}};
    const std::string why = peer.errors.empty() ? "unreadable" : peer.errors.front().message;
    return {value,
            {},
            "--compare " + value +
                ": neither a sha256 digest (64 hex digits) nor a readable file (" + why + ")"};
}

// Every error, then the verdict, as ftpproxyd would give it.
std::string report_load(const std::string& file, const config::LoadResult& loaded) {
    std::string text;
    if (!loaded.config) {
        for (const auto& error : loaded.errors) text += to_string(error) + "\n";
        return text + file + ": " + std::to_string(loaded.errors.size()) +
               " error(s); ftpproxyd would refuse this file (a running one keeps its current "
               "configuration)\n";
    }
    std::string names;
    for (const auto& instance : loaded.config->instances) {
        names += (names.empty() ? "" : ", ") + instance.name;
    }
    return text + file + ": OK, " + std::to_string(loaded.config->instances.size()) +
           " instance(s)" + (names.empty() ? "" : ": " + names) + "\n";
}

}  // namespace

std::string render_comparison(const std::string& file, const std::string& ours,
                              const std::string& other, const std::string& theirs) {
    if (ours == theirs) return file + ": same as " + other + " (sha256 " + ours + ")\n";
    return file + ": NOT the same as " + other + ": sha256 " + ours + " here, " + theirs +
           " there\n";
}

CheckOutcome check_file(const std::string& file, const std::optional<std::string>& compare) {
    const config::LoadResult loaded = config::load_config_file(file);
    CheckOutcome outcome{report_load(file, loaded), loaded.config ? kExitOk : kExitFailed};
    if (!loaded.sha256.empty()) outcome.text += file + ": sha256 " + loaded.sha256 + "\n";
    if (!compare) return outcome;
    const Other other = resolve_other(*compare);
    if (!other.problem.empty()) {
        outcome.text += other.problem + "\n";
    } else if (loaded.sha256.empty()) {
        outcome.text += file + ": cannot be compared: it could not be read\n";
    } else {
        outcome.text += render_comparison(file, loaded.sha256, other.name, other.digest);
        if (loaded.sha256 == other.digest) return outcome;
    }
    outcome.exit_code = kExitFailed;
    return outcome;
}

}  // namespace ctl
