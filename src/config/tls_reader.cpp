// 'tls' (in 'defaults' or an instance): FTPS toward clients and toward the
// server, for a reverse proxy. Each key's place is kept in the draft as
// "tls.KEY", so that the checks made after merging point at the right line.
#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <vector>

#include "config/file_digest.hpp"
#include "config/sections.hpp"
#include "config/tls_files.hpp"

namespace config {

namespace {

constexpr std::array<std::string_view, 12> kTlsKeys = {"certificate",
                                                       "key",
                                                       "client",
                                                       "client_reuse",
                                                       "server",
                                                       "server_ca",
                                                       "server_name",
                                                       "server_fingerprint",
                                                       "handshake_timeout",
                                                       "implicit",
                                                       "min_version",
                                                       "ciphers"};
constexpr std::chrono::seconds kMaxTlsHandshakeTimeout{3600};  // the worker's bound

std::string tls_key(std::string_view key) {
    return "tls." + std::string(key);
}

std::string quoted(std::string_view key) {
    return "'" + tls_key(key) + "'";
}

// A host name or an IP address: what the server's certificate must name.
std::optional<std::string> read_server_name(const YAML::Node& value, ErrorList& errors) {
    auto text = read_scalar(value, tls_key("server_name"), errors);
    if (text && !common::is_host_name(*text) && !common::parse_ip_address(*text)) {
        errors.add(value.Mark(), quoted("server_name") + ": \"" + *text +
                                     "\" is neither an IP address nor a host name");
        return std::nullopt;
    }
    return text;
}

// As `openssl x509 -fingerprint -sha256` prints it (colons), or plain hex;
// kept as 64 lowercase digits.
std::optional<std::string> read_fingerprint(const YAML::Node& value, ErrorList& errors) {
    const auto text = read_scalar(value, tls_key("server_fingerprint"), errors);
    if (!text) return std::nullopt;
    std::string digits;
    for (const char c : *text)
        if (c != ':') digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!is_sha256_hex(digits)) {
        errors.add(value.Mark(), quoted("server_fingerprint") + ": \"" + *text +
                                     "\" is not a SHA-256 fingerprint (64 hex digits, colons "
                                     "allowed)");
        return std::nullopt;
    }
    return digits;
}

// The oldest TLS version accepted: what the worker's --tls-min-version takes.
std::optional<std::string> read_min_version(const YAML::Node& value, ErrorList& errors) {
    auto text = read_scalar(value, tls_key("min_version"), errors);
    if (text && *text != "1.2" && *text != "1.3") {
        errors.add(value.Mark(),
                   quoted("min_version") + ": \"" + *text + "\" is not one of 1.2 or 1.3");
        return std::nullopt;
    }
    return text;
}

// An OpenSSL cipher list this OpenSSL knows at least one cipher of (the
// worker refuses the others at start).
std::optional<std::string> read_ciphers(const YAML::Node& value, ErrorList& errors) {
    auto text = read_scalar(value, tls_key("ciphers"), errors);
    if (text && !is_known_cipher_list(*text)) {
        errors.add(value.Mark(),
                   quoted("ciphers") + ": \"" + *text + "\" names no cipher this OpenSSL knows");
        return std::nullopt;
    }
    return text;
}

bool read_tls_entry(const std::string& key, const YAML::Node& value, TlsSettings& tls,
                    ErrorList& errors) {
    const std::string name = tls_key(key);
    if (key == "certificate")
        return set_if_valid(tls.certificate, read_absolute_path(value, name, errors));
    if (key == "key") return set_if_valid(tls.key, read_absolute_path(value, name, errors));
    if (key == "client")
        return set_if_valid(tls.client,
                            read_choice<ClientTls>(value, name, kClientTlsWords, errors));
    if (key == "client_reuse")
        return set_if_valid(tls.client_reuse,
                            read_choice<ClientReuse>(value, name, kClientReuseWords, errors));
    if (key == "server")
        return set_if_valid(tls.server,
                            read_choice<ServerTls>(value, name, kServerTlsWords, errors));
    if (key == "server_ca")
        return set_if_valid(tls.server_ca, read_absolute_path(value, name, errors));
    if (key == "server_name") return set_if_valid(tls.server_name, read_server_name(value, errors));
    if (key == "server_fingerprint")
        return set_if_valid(tls.server_fingerprint, read_fingerprint(value, errors));
    if (key == "implicit") return set_if_valid(tls.implicit, read_bool(value, name, errors));
    if (key == "min_version") return set_if_valid(tls.min_version, read_min_version(value, errors));
    if (key == "ciphers") return set_if_valid(tls.ciphers, read_ciphers(value, errors));
    return set_if_valid(tls.handshake_timeout, read_duration(value, name, std::chrono::seconds{1},
                                                             kMaxTlsHandshakeTimeout, errors));
}

// Back to the built-in default, as if never written (nor in 'defaults').
void forget(InstanceDraft& draft, std::string_view key) {
    const TlsSettings none;
    TlsSettings& tls = draft.instance.tls;
    if (key == "key") tls.key = none.key;
    if (key == "server_ca") tls.server_ca = none.server_ca;
    if (key == "server_fingerprint") tls.server_fingerprint = none.server_fingerprint;
    draft.marks.erase(tls_key(key));
    draft.invalid.erase(tls_key(key));
}

void forget_all(InstanceDraft& draft) {
    draft.instance.tls = TlsSettings{};
    for (const std::string_view key : kTlsKeys) {
        draft.marks.erase(tls_key(key));
        draft.invalid.erase(tls_key(key));
    }
}

// Set in this map (not only taken from 'defaults'): a check that involves
// none of its keys here was already made on 'defaults'.
bool own_any(const InstanceDraft& draft, std::initializer_list<std::string_view> keys) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](std::string_view key) { return draft.own.contains(tls_key(key)); });
}

void check_combinations(const InstanceDraft& draft, ErrorList& errors) {
    const TlsSettings& tls = draft.instance.tls;
    const auto present = [&](std::string_view key) { return draft.marks.contains(tls_key(key)); };
    const auto valid = [&](std::string_view key) { return draft.has(tls_key(key)); };
    const auto mark = [&](std::string_view key) { return draft.mark(tls_key(key)); };
    if (valid("key") && !present("certificate") && own_any(draft, {"key"}))
        errors.add(mark("key"), quoted("key") + " without " + quoted("certificate"));
    if (valid("client") && tls.client != ClientTls::off && !present("certificate") &&
        own_any(draft, {"client"})) {
        errors.add(mark("client"), quoted("client") + ": " +
                                       std::string(word_of(kClientTlsWords, tls.client)) +
                                       " needs " + quoted("certificate") +
                                       " (the certificate the proxy shows its clients)");
    }
    if (valid("client_reuse") && tls.client_reuse == ClientReuse::required &&
        own_any(draft, {"client_reuse", "client", "certificate"}) &&
        finished_tls(draft).client == ClientTls::off) {
        errors.add(mark("client_reuse"),
                   quoted("client_reuse") + ": required needs TLS toward clients (" +
                       quoted("certificate") + ", and " + quoted("client") + " not off)");
    }
    for (const std::string_view key : {"server_ca", "server_name", "server_fingerprint"}) {
        if (valid(key) && !draft.invalid.contains(tls_key("server")) &&
            tls.server == ServerTls::off && own_any(draft, {key, "server"})) {
            errors.add(mark(key), quoted(key) + " needs " + quoted("server") +
                                      ": auto or required (it is off" +
                                      (present("server") ? "" : " by default") + ")");
        }
    }
    if (valid("implicit") && tls.implicit &&
        own_any(draft, {"implicit", "certificate", "client"})) {
        if (!present("certificate"))
            errors.add(mark("implicit"), quoted("implicit") + " needs " + quoted("certificate") +
                                             " (every session starts with the proxy's handshake)");
        else if (present("client") && tls.client == ClientTls::off)
            errors.add(mark("implicit"), quoted("implicit") + " and " + quoted("client") +
                                             ": off contradict each other: every session is TLS");
    }
    if (valid("server_ca") && valid("server_fingerprint") &&
        own_any(draft, {"server_ca", "server_fingerprint"})) {
        errors.add(mark("server_fingerprint"),
                   quoted("server_fingerprint") + " and " + quoted("server_ca") + " (" +
                       describe_line(mark("server_ca")) +
                       ") exclude each other: a pinned certificate is checked by its "
                       "fingerprint alone");
    }
}

// A forward proxy reaches whatever server a client names: it has no
// certificate to show for it, and no name to check the server's against.
void check_mode(const InstanceDraft& draft, ErrorList& errors) {
    if (draft.invalid.contains("mode") || draft.instance.mode != Mode::forward ||
        !finished_tls(draft).enabled()) {
        return;
    }
    const std::string reason =
        "forward mode cannot terminate TLS: its clients reach servers it holds no certificate "
        "or name for";
    if (draft.own.contains("tls")) {
        errors.add(draft.mark("tls"), reason + " (remove 'tls' or write 'tls: off')");
    } else if (draft.own.contains("mode")) {
        errors.add(draft.mark("mode"), reason + " ('tls' of 'defaults' at " +
                                           describe_line(draft.mark("tls")) +
                                           " applies here: write 'tls: off' in this instance)");
    }
}

void check_files(const InstanceDraft& draft, TlsFiles& files, ErrorList& errors) {
    const auto valid = [&](std::string_view key) { return draft.has(tls_key(key)); };
    const TlsSettings& tls = draft.instance.tls;  // tls.key empty: in the certificate file
    std::vector<TlsFileProblem> problems;
    // A pair with a bad or misplaced key path is reported as such already.
    const bool key_usable = valid("key") || !draft.marks.contains(tls_key("key"));
    if (valid("certificate") && key_usable && own_any(draft, {"certificate", "key"})) {
        if (auto problem = files.check_pair(tls.certificate, tls.key)) problems.push_back(*problem);
    }
    if (valid("server_ca") && own_any(draft, {"server_ca"})) {
        if (auto problem = files.check_ca(tls.server_ca)) problems.push_back(*problem);
    }
    for (TlsFileProblem& problem : problems) {
        using Key = TlsFileProblem::Key;
        const std::string_view key = problem.key == Key::certificate ? "certificate"
                                     : problem.key == Key::key       ? "key"
                                                                     : "server_ca";
        errors.add(draft.mark(tls_key(key)), std::move(problem.message));
    }
}

}  // namespace

// `off` (or false): no TLS, whatever 'defaults' says. A map changes the keys
// it names. A certificate written without its key takes its key from its
// own file, not from 'defaults'; a CA and a pin replace each other.
bool read_tls(const YAML::Node& value, InstanceDraft& draft, ErrorList& errors) {
    if (value.IsScalar() && (value.Scalar() == "off" || value.Scalar() == "false")) {
        forget_all(draft);
        return true;
    }
    if (!value.IsMap()) {
        errors.add(value.Mark(), "'tls' is 'off' or a map (" + join_choices(kTlsKeys) + ")");
        return false;
    }
    bool entries_valid = true;
    std::set<std::string, std::less<>> written;
    const bool known = for_each_known_entry(
        value, kTlsKeys, errors,
        [&](const std::string& key, const YAML::Node&, const YAML::Node& entry) {
            written.insert(key);
            const std::string name = tls_key(key);
            draft.marks[name] = entry.Mark();
            draft.own.insert(name);
            draft.invalid.erase(name);
            if (!read_tls_entry(key, entry, draft.instance.tls, errors)) {
                draft.invalid.insert(name);
                entries_valid = false;
            }
        });
    for (const auto& [set, replaced] : {std::pair{"certificate", "key"},
                                        {"server_ca", "server_fingerprint"},
                                        {"server_fingerprint", "server_ca"}}) {
        if (written.contains(set) && !written.contains(replaced)) forget(draft, replaced);
    }
    return known && entries_valid;
}

TlsSettings finished_tls(const InstanceDraft& draft) {
    TlsSettings tls = draft.instance.tls;
    if (tls.key.empty()) tls.key = tls.certificate;
    if (!draft.marks.contains(tls_key("client")))
        tls.client = tls.certificate.empty() ? ClientTls::off : ClientTls::optional;
    return tls;
}

void check_tls(const InstanceDraft& draft, TlsFiles& files, ErrorList& errors) {
    check_combinations(draft, errors);
    check_mode(draft, errors);
    check_files(draft, files, errors);
}

}  // namespace config
