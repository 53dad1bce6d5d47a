#include "config/loader.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/file_digest.hpp"
#include "config/sections.hpp"
#include "config/tls_files.hpp"

namespace config {

namespace {

// A configuration is a few kilobytes; a huge file is a mistake (or an attack
// with YAML aliases), not something to parse.
constexpr std::size_t kMaxFileSize = 1 << 20;

// The first entry with `key` (a repeat is reported as a duplicate). Not
// operator[]: on a non-const node it would insert the key.
std::optional<YAML::Node> find_entry(const YAML::Node& map, std::string_view key) {
    for (const auto& entry : map) {
        if (entry.first.IsScalar() && entry.first.Scalar() == key) {
            return entry.second;
        }
    }
    return std::nullopt;
}

// yaml-cpp's message for "listen: [::1]:8021" is "end of map not found",
// which does not help; the line itself shows what went wrong.
std::string parser_message(const YAML::ParserException& error, std::string_view text) {
    std::string_view line = text;
    for (int i = 0; i < error.mark.line && !line.empty(); ++i) {
        const auto newline = line.find('\n');
        line = newline == std::string_view::npos ? std::string_view{} : line.substr(newline + 1);
    }
    line = line.substr(0, line.find('\n'));
    const auto open = line.find('[');
    if (open != std::string_view::npos && line.find("]:", open) != std::string_view::npos) {
        return error.msg + " (quote an IPv6 address in brackets: \"[::1]:8021\")";
    }
    return error.msg;
}

// Where each document of a text starts, for at most `limit` documents.
// yaml-cpp 0.7's LoadAll never returns on a ',' outside [] or {}: its parser
// yields one empty document after another at that place until memory runs
// out (found by tests/fuzz/config_fuzz). So the documents are counted here,
// with a bound, and the first one is loaded alone.
class DocumentStarts final : public YAML::EventHandler {
  public:
    static std::vector<YAML::Mark> of(const std::string& text, std::size_t limit) {
        std::istringstream input(text);
        YAML::Parser parser(input);
        DocumentStarts starts;
        while (starts.marks_.size() < limit && parser.HandleNextDocument(starts)) {
        }
        return std::move(starts.marks_);
    }

    void OnDocumentStart(const YAML::Mark& mark) override {
        marks_.push_back(mark);
        at_start_ = true;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

  private:
    // A document is located by its first node, as a loaded Node would be.
    void node(const YAML::Mark& mark) {
        if (at_start_) marks_.back() = mark;
        at_start_ = false;
    }

    std::vector<YAML::Mark> marks_;
    bool at_start_ = false;
};

std::optional<YAML::Node> parse_document(std::string_view text, ErrorList& errors) {
    const std::string input(text);
    YAML::Node root;
    std::vector<YAML::Mark> starts;
    try {
        // Three: enough to see a second document, or two at one place.
        starts = DocumentStarts::of(input, 3);
        root = YAML::Load(input);
    } catch (const YAML::ParserException& error) {
        errors.add(error.mark, parser_message(error, text));
        return std::nullopt;
    } catch (const YAML::Exception& error) {
        errors.add(error.mark, error.msg);
        return std::nullopt;
    }
    for (std::size_t i = 1; i < starts.size(); ++i) {
        if (starts[i].pos == starts[i - 1].pos) {
            const auto at = static_cast<std::size_t>(starts[i].pos);
            errors.add(starts[i], at < text.size() && text[at] == ','
                                      ? "a ',' outside [...] or {...}: commas separate "
                                        "items only there"
                                      : "the YAML parser cannot go on here");
            return std::nullopt;
        }
    }
    if (starts.empty() || root.IsNull()) {
        errors.add(YAML::Mark{}, "the file is empty: it needs at least 'instances: []'");
        return std::nullopt;
    }
    if (starts.size() > 1) {
        errors.add(starts[1], "only one YAML document is allowed (remove the '---')");
    }
    if (!root.IsMap()) {
        errors.add(
            root.Mark(),
            "the top level must be a map of 'global', 'defaults', 'instances' and 'cluster'");
        return std::nullopt;
    }
    return root;
}

std::vector<InstanceDraft> read_instances(const YAML::Node& list, const InstanceDraft& defaults,
                                          ErrorList& errors) {
    std::vector<InstanceDraft> drafts;
    if (!list.IsSequence()) {
        errors.add(list.Mark(), "'instances' must be a list (\"- name: ...\"; [] for none)");
        return drafts;
    }
    for (const auto& item : list) {
        if (!item.IsMap()) {
            errors.add(item.Mark(), "an instance must be a map of settings (name, listen, ...)");
            continue;
        }
        drafts.push_back(read_instance(item, defaults, errors));
    }
    return drafts;
}

}  // namespace

LoadResult load_config_text(std::string_view text, const std::string& file_name) {
    ErrorList errors(file_name);
    const auto root = parse_document(text, errors);
    if (!root) {
        return {std::nullopt, errors.take(), {}};
    }
    report_duplicate_keys(*root, errors);
    for_each_entry(*root, errors,
                   [&](const std::string& key, const YAML::Node& key_node, const YAML::Node&) {
                       if (std::find(kTopKeys.begin(), kTopKeys.end(), key) == kTopKeys.end()) {
                           report_unknown_key(key_node, key, kTopKeys, "", errors);
                       }
                   });

    // Sections are read in a fixed order, whatever their order in the file:
    // the global log level is the default of 'defaults', which is the default
    // of every instance.
    Config config;
    const auto settings_section = [&](std::string_view key) -> std::optional<YAML::Node> {
        auto node = find_entry(*root, key);
        if (node && !node->IsMap()) {
            errors.add(node->Mark(), "'" + std::string(key) + "' must be a map of settings");
            return std::nullopt;
        }
        return node;
    };
    if (const auto global = settings_section("global")) {
        read_global(*global, config.global, errors);
    }
    InstanceDraft defaults;
    defaults.instance.log_level = config.global.log_level;
    // Each TLS file is read once: the checks and the digests see the same bytes.
    TlsFiles tls_files;
    if (const auto node = settings_section("defaults")) {
        read_defaults(*node, defaults, errors);
        check_tls(defaults, tls_files, errors);
    }
    YAML::Mark cluster_at;
    if (const auto node = settings_section("cluster")) {
        cluster_at = node->Mark();
        read_cluster(*node, config.cluster, errors);
    }
    std::vector<InstanceDraft> drafts;
    if (const auto node = find_entry(*root, "instances")) {
        drafts = read_instances(*node, defaults, errors);
    } else {
        errors.add(root->Mark(), "no 'instances' list (write 'instances: []' for none)");
    }
    for (const InstanceDraft& draft : drafts) {
        check_instance(config.global, draft, errors);
        check_tls(draft, tls_files, errors);
    }
    check_instances(drafts, errors);
    check_handoff(config.cluster, cluster_at, drafts, errors);

    if (!errors.empty()) {
        return {std::nullopt, errors.take(), {}};
    }
    for (InstanceDraft& draft : drafts) {
        draft.instance.tls = finished_tls(draft);
        draft.instance.tls.files_sha256 = tls_files.digest(draft.instance.tls);
        config.instances.push_back(std::move(draft.instance));
    }
    return {std::move(config), {}, {}};
}

LoadResult load_config_file(const std::string& path) {
    const auto fail = [&](std::string message) {
        return LoadResult{std::nullopt, {ConfigError{path, 1, 1, std::move(message)}}, {}};
    };
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return fail(std::string("cannot open: ") + std::strerror(errno));
    }
    std::string text(kMaxFileSize + 1, '\0');
    file.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (file.bad()) {
        return fail(std::string("cannot read: ") + std::strerror(errno));
    }
    text.resize(static_cast<std::size_t>(file.gcount()));
    if (text.size() > kMaxFileSize) {
        return fail("the file is larger than " + std::to_string(kMaxFileSize) + " bytes");
    }
    LoadResult result = load_config_text(text, path);
    result.sha256 = sha256_hex(text);
    if (result.config) result.config->sha256 = result.sha256;
    return result;
}

}  // namespace config
